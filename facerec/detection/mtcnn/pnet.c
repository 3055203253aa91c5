/* _facerec_mtcnn: P-Net, the MTCNN cascade's first stage, as one C function.
 *
 * Why C: P-Net runs over every level of an image pyramid, and on photos with few faces it is most
 * of detection's time. Its layers are thin (3 -> 10 -> 16 -> 32 channels), so in a general
 * runtime each layer is a pass over a large feature map, with its activation as another pass:
 * ONNX Runtime spent more time on P-Net's first PReLU and layout changes than on its
 * convolutions. Here the whole network, with the resampling of the level from the image's
 * summed-area table before it, runs row by row with every feature map in the caches, and the
 * convolutions keep the vector units busy. It releases the GIL, so the detector's workers share a
 * level's rows between them.
 *
 * The result is the network's, in float32: within float32 rounding of torch's and ONNX Runtime's
 * (facerec/detection/mtcnn/native.py runs it; the tests compare it with both).
 *
 * Built by hatch_build.py as the top-level module _facerec_mtcnn; without a C compiler facerec
 * installs without it and runs P-Net on ONNX Runtime. The kernels are compiled for AVX-512, AVX2
 * and the baseline instruction set, chosen when the module loads (GCC on x86-64; other compilers
 * and machines build the baseline only, which the compiler vectorises for the machine it targets).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* Bump when the packed weights or the arguments change: native.py refuses a module whose version
 * is not its own (an installed build older than the source tree that imports it). */
#define KERNEL_VERSION 4

/* The packed weights (floats), written by native.pack: conv1 as scalars [c][ci][ky][kx] for
 * the planar first layer; conv2, conv3 and the two 1x1 heads as [ky][kx][ci][16 or 32 outputs],
 * zero-padded to whole vectors; the heads' outputs are (logit 0, logit 1, regression 0..3). */
enum {
    W1 = 0,          /* 10 x 3 x 3 x 3, padded to 272 */
    B1 = W1 + 272,   /* 10, padded to 16 */
    S1 = B1 + 16,    /* PReLU slopes */
    W2 = S1 + 16,    /* 3 x 3 x 10 x 16 */
    B2 = W2 + 1440,
    S2 = B2 + 16,
    W3 = S2 + 16,    /* 3 x 3 x 16 x 32 */
    B3 = W3 + 4608,
    S3 = B3 + 32,
    W4 = S3 + 32,    /* 32 x 16 */
    B4 = W4 + 512,
    PNET_WEIGHTS = B4 + 16,
};

typedef float v16 __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef float v8 __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef float v4 __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

#define ALWAYS static inline __attribute__((always_inline))

ALWAYS v16 load16(const float *p) {
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

ALWAYS void store16(float *p, v16 v) { memcpy(p, &v, sizeof v); }

ALWAYS v16 select16(v16i mask, v16 yes, v16 no) { return (v16)(((v16i)yes & mask) | ((v16i)no & ~mask)); }

ALWAYS v16 prelu16(v16 x, v16 slope) {
    v16 zero = {0};
    return select16(x > zero, x, x * slope);
}

/* exp(x) for x <= 0: Cody and Waite's reduction x = n ln 2 + r and a degree-5 polynomial in r
 * (Cephes' expf), within an ulp or two of the correctly rounded value; below -87 it returns
 * exp(-87) (the probability that takes it is 1 or 0 to float32 either way). */
ALWAYS v16 exp_nonpositive(v16 x) {
    v16 zero = {0}, low = zero - 87.0f, magic = zero + 12582912.0f; /* 1.5 * 2^23: rounds to integers */
    x = select16(x < low, low, x);
    v16 n = (x * 1.44269504088896341f + magic) - magic;
    v16 r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    v16 p = zero + 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    v16i scale = (__builtin_convertvector(n, v16i) + 127) << 23;
    return p * (v16)scale;
}

/* One pyramid level, as area.resize would make it from the summed-area table. */
struct level {
    const int32_t *table; /* (rows) x table_width x 3 */
    long table_width;
    const int64_t *ys0, *ys1, *xs0, *xs1; /* each level row's and column's window, half-open */
    const float *widths;                  /* xs1 - xs0 as float32 */
    int height, width, out_height;
};

static float *aligned(long floats) {
    size_t bytes = ((size_t)floats * sizeof(float) + 63) & ~(size_t)63;
    return aligned_alloc(64, bytes ? bytes : 64);
}

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define MULTI_TARGET 1
#pragma GCC diagnostic ignored "-Wpsabi"

#pragma GCC push_options
#pragma GCC target("avx2,fma,avx512f,avx512vl,avx512dq,avx512bw")
#define NAME(x) x##_avx512
#define VP v16
#define VPI v16i
#define CONV2_PIXELS 8
#define CONV3_PIXELS 4
#include "pnet_kernels.h"
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define NAME(x) x##_avx2
#define VP v8
#define VPI v8i
#define CONV2_PIXELS 4
#define CONV3_PIXELS 2
#include "pnet_kernels.h"
#pragma GCC pop_options
#endif

#define NAME(x) x##_baseline
#define VP v4
#define VPI v4i
#define CONV2_PIXELS 2
#define CONV3_PIXELS 1
#include "pnet_kernels.h"

typedef int (*band_function)(const struct level *, const float *, int, int, float *, float *);

/* The builds of the kernel this machine can run, best first; pnet() runs the first unless asked
 * for another (the tests run each). */
struct build {
    const char *name;
    band_function band;
};
static struct build builds[3];
static int build_count = 0;

static void find_builds(void) {
#ifdef MULTI_TARGET
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw"))
        builds[build_count++] = (struct build){"avx512", pnet_band_avx512};
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        builds[build_count++] = (struct build){"avx2", pnet_band_avx2};
#endif
    builds[build_count++] = (struct build){"baseline", pnet_band_baseline};
}

/* Rows and columns of P-Net's output for a level side (3x3 conv, 2x2 ceil pool, 3x3, 3x3). */
static long pnet_output_side(long side) { return (side - 4 + 1) / 2 - 3; }

static int check_windows(const int64_t *start, const int64_t *stop, long count, long limit, const char *what) {
    for (long k = 0; k < count; k++)
        if (start[k] < 0 || start[k] >= stop[k] || stop[k] >= limit) {
            PyErr_Format(PyExc_ValueError, "%s window %ld is not inside the summed-area table", what, k);
            return -1;
        }
    return 0;
}

PyDoc_STRVAR(pnet_doc,
             "pnet(table, table_width, ys0, ys1, xs0, xs1, weights, row_start, row_stop, regression, probability,\n"
             "     instruction_set=INSTRUCTION_SET)\n\n"
             "P-Net's output rows [row_start, row_stop) for the pyramid level whose rows and columns average the\n"
             "half-open windows ys0..ys1 and xs0..xs1 (int64) of the image behind the int32 summed-area table\n"
             "(rows x table_width x 3), into regression (4 x h x w float32) and probability (h x w float32).\n"
             "weights: float32, as native.pack lays them out. instruction_set: one of INSTRUCTION_SETS (the builds\n"
             "this machine runs, best first). Releases the GIL.");

/* Levels are at most this many rows and columns (a 2.1 gigapixel table is 16 bits short of it):
 * the kernels index rows with int. */
#define MAX_LEVEL_SIDE (1L << 24)

static PyObject *pnet(PyObject *self, PyObject *args) {
    (void)self; /* a module function: no instance */
    Py_buffer table, ys0, ys1, xs0, xs1, weights, reg, prob;
    Py_ssize_t table_width;
    int row_start, row_stop;
    const char *instruction_set = builds[0].name;
    if (!PyArg_ParseTuple(args, "y*ny*y*y*y*y*iiw*w*|s", &table, &table_width, &ys0, &ys1, &xs0, &xs1, &weights,
                          &row_start, &row_stop, &reg, &prob, &instruction_set))
        return NULL;
    band_function band = NULL;
    for (int k = 0; k < build_count; k++)
        if (strcmp(builds[k].name, instruction_set) == 0) band = builds[k].band;
    PyObject *result = NULL;
    float *widths = NULL;
    int64_t *windows = NULL; /* the caller's ys0, ys1, xs0 and xs1, copied */
    long height = (long)(ys0.len / 8), width = (long)(xs0.len / 8);
    long out_h = pnet_output_side(height), out_w = pnet_output_side(width);
    long rows = -1;
    if (!band) {
        PyErr_Format(PyExc_ValueError, "instruction set %s is not one this machine runs (INSTRUCTION_SETS)",
                     instruction_set);
    } else if ((rows = table_rows(&table, table_width)) < 0) {
        /* ValueError set */
    } else if (ys0.len % 8 || xs0.len % 8 || ys1.len != ys0.len || xs1.len != xs0.len || height < 12 ||
               width < 12 || height > MAX_LEVEL_SIDE || width > MAX_LEVEL_SIDE) {
        PyErr_SetString(PyExc_ValueError,
                        "a level has 12 to 2**24 rows and columns, each with an int64 start and stop");
    } else if (weights.len != (Py_ssize_t)(PNET_WEIGHTS * sizeof(float))) {
        PyErr_Format(PyExc_ValueError, "weights must be %d float32 values", (int)PNET_WEIGHTS);
    } else if (reg.len != (Py_ssize_t)(4 * 4 * out_h * out_w) || prob.len != (Py_ssize_t)(4 * out_h * out_w)) {
        PyErr_Format(PyExc_ValueError, "outputs must be 4 x %ld x %ld and %ld x %ld float32 values", out_h, out_w,
                     out_h, out_w);
    } else if (row_start < 0 || row_start > row_stop || row_stop > out_h) {
        PyErr_Format(PyExc_ValueError, "rows [%d, %d) are not inside the output's %ld", row_start, row_stop, out_h);
    } else if (aligned_floats(&weights, "weights") == 0 && aligned_floats(&reg, "regression") == 0 &&
               aligned_floats(&prob, "probability") == 0 && (windows = malloc(16 * (height + width))) != NULL) {
        int64_t *y0 = windows, *y1 = y0 + height, *x0 = y1 + height, *x1 = x0 + width;
        memcpy(y0, ys0.buf, 8 * height), memcpy(y1, ys1.buf, 8 * height);
        memcpy(x0, xs0.buf, 8 * width), memcpy(x1, xs1.buf, 8 * width);
        if (check_windows(y0, y1, height, rows, "row") == 0 && check_windows(x0, x1, width, (long)table_width, "column") == 0) {
            widths = aligned(width);
            if (!widths) {
                PyErr_NoMemory();
            } else {
                for (long k = 0; k < width; k++) widths[k] = (float)(x1[k] - x0[k]);
                struct level lv = {table.buf, (long)table_width, y0, y1, x0, x1, widths, (int)height, (int)width, (int)out_h};
                int status;
                Py_BEGIN_ALLOW_THREADS
                status = band(&lv, weights.buf, row_start, row_stop, reg.buf, prob.buf);
                Py_END_ALLOW_THREADS
                if (status == 0) {
                    result = Py_NewRef(Py_None);
                } else {
                    PyErr_NoMemory();
                }
            }
        }
    } else if (!PyErr_Occurred()) {
        PyErr_NoMemory();
    }
    free(widths), free(windows);
    PyBuffer_Release(&table), PyBuffer_Release(&ys0), PyBuffer_Release(&ys1), PyBuffer_Release(&xs0);
    PyBuffer_Release(&xs1), PyBuffer_Release(&weights), PyBuffer_Release(&reg), PyBuffer_Release(&prob);
    return result;
}

static PyMethodDef methods[] = {
    {"pnet", pnet, METH_VARARGS, pnet_doc},
    {"nms_keep", nms_keep, METH_VARARGS,
     "nms_keep(boxes, threshold, by_smaller, pixel_offset, keep)\n\nGreedy NMS over n x 4 float32 boxes in order "
     "of visit: keep (n bytes) gets 1 for each kept box. See nms.c."},
    {"crops", crops, METH_VARARGS,
     "crops(table, table_width, windows, size, out)\n\nThe n windows (x0, y0, x1, y1; int64, half-open) of the "
     "image behind the int32 summed-area table, area-resized and normalised into out (n x 3 x size x size "
     "float32), as area.crops and detector._normalise make them. See crops.c."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_facerec_mtcnn", "MTCNN's P-Net, NMS and crops in C; see facerec/detection/mtcnn/pnet.c.", -1, methods,
};

PyMODINIT_FUNC PyInit__facerec_mtcnn(void) {
    if (build_count == 0) find_builds();
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    PyObject *names = PyTuple_New(build_count);
    for (int k = 0; names && k < build_count; k++) {
        PyObject *name = PyUnicode_FromString(builds[k].name);
        if (!name) Py_CLEAR(names);
        else PyTuple_SET_ITEM(names, k, name);
    }
    int added = names ? PyModule_AddObjectRef(m, "INSTRUCTION_SETS", names) : -1;
    Py_XDECREF(names);
    if (added < 0 || PyModule_AddIntConstant(m, "KERNEL_VERSION", KERNEL_VERSION) < 0 ||
        PyModule_AddIntConstant(m, "PNET_WEIGHTS", PNET_WEIGHTS) < 0 ||
        PyModule_AddStringConstant(m, "INSTRUCTION_SET", builds[0].name) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
