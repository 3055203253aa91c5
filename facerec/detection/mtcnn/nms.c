/* Greedy non-maximum suppression for _facerec_mtcnn (see boxes.nms, whose results these are).
 *
 * Why C: a 1920x1080 photo gives P-Net a thousand candidates and more, and the numpy version of
 * the greedy loop (blocks of overlap matrices) spent 15-20 ms on them, as long as P-Net's own
 * maps; the loop here visits only the pairs it must (each kept box against the boxes after it).
 *
 * Every overlap is computed as boxes._overlaps computes it, in float32 and in its order of
 * operations, and compared with the threshold rounded to float32 as numpy compares: the kept
 * boxes are the numpy version's, bit for bit. Hence no fused multiply-adds in this file.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdlib.h>

#include "kernels.h"

#pragma STDC FP_CONTRACT OFF
#ifdef __GNUC__
#pragma GCC optimize("fp-contract=off") /* GCC ignores the standard pragma */
#endif

/* np.maximum and np.minimum: a NaN (a network's output gone wrong) wins, as there. */
static float max_f(float a, float b) { return (a != a || a > b) ? a : b; }
static float min_f(float a, float b) { return (a != a || a < b) ? a : b; }

/* keep[i] = 1 for each box (x1, y1, x2, y2; in order of visit, best first) that the greedy pass
 * keeps, 0 for the rest. */
static void suppress(const float *box, long n, float threshold, int by_smaller, float offset, float *areas,
                     unsigned char *keep) {
    for (long i = 0; i < n; i++) {
        const float *b = box + 4 * i;
        areas[i] = (b[2] - b[0] + offset) * (b[3] - b[1] + offset);
        keep[i] = 1;
    }
    for (long i = 0; i < n; i++) {
        if (!keep[i]) continue;
        const float *a = box + 4 * i;
        for (long j = i + 1; j < n; j++) {
            if (!keep[j]) continue;
            const float *b = box + 4 * j;
            float w = min_f(a[2], b[2]) - max_f(a[0], b[0]) + offset;
            float h = min_f(a[3], b[3]) - max_f(a[1], b[1]) + offset;
            float inter = max_f(w, 0.0f) * max_f(h, 0.0f);
            float overlap = by_smaller ? inter / min_f(areas[i], areas[j]) : inter / (areas[i] + areas[j] - inter);
            if (overlap > threshold) keep[j] = 0;
        }
    }
}

PyObject *nms_keep(PyObject *self, PyObject *args) {
    (void)self; /* a module function: no instance */
    Py_buffer boxes, keep;
    float threshold, offset;
    int by_smaller;
    if (!PyArg_ParseTuple(args, "y*fpfw*", &boxes, &threshold, &by_smaller, &offset, &keep)) return NULL;
    PyObject *result = NULL;
    long n = (long)(boxes.len / 16);
    if (boxes.len % 16 != 0 || keep.len != n) {
        PyErr_SetString(PyExc_ValueError, "boxes must be n x 4 float32 values and keep n bytes");
    } else if (aligned_floats(&boxes, "boxes") == 0) {
        float *areas = malloc(sizeof(float) * (n ? n : 1));
        if (!areas) {
            PyErr_NoMemory();
        } else {
            Py_BEGIN_ALLOW_THREADS
            suppress(boxes.buf, n, threshold, by_smaller, offset, areas, keep.buf);
            Py_END_ALLOW_THREADS
            free(areas);
            result = Py_NewRef(Py_None);
        }
    }
    PyBuffer_Release(&boxes), PyBuffer_Release(&keep);
    return result;
}
