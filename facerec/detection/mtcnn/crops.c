/* Crops for R-Net and O-Net, for _facerec_mtcnn: area.crops and detector._normalise in one pass.
 *
 * Why C: stage 2 resamples every P-Net candidate to 24 x 24, a thousand and more of them on a
 * 1920x1080 photo, and numpy's gathers from the summed-area table took a third as long as R-Net
 * itself (17 against 49 ms on one thread); here it is a couple of milliseconds.
 *
 * The crops are area.crops' and _normalise's bit for bit: the same integer window sums, then
 * ((float)sum / height) / width, then (v - 127.5) * 0.0078125, in float32 (no multiply-add to fuse).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>

#include "kernels.h"

/* Start and stop of bin i of `size` over [origin, origin + length): area.bins. */
static void bin(int64_t origin, int64_t length, int size, int i, int64_t *start, int64_t *stop) {
    *start = origin + (i * length) / size;
    *stop = origin + ((i + 1) * length + size - 1) / size;
}

/* One window (x0, y0, x1, y1) of the image behind `table` (rows of `stride` pixels x 3) into
 * out: 3 planes of size x size. */
static void crop(const int32_t *table, long stride, const int64_t *window, int size, float *out) {
    int64_t xs0[64], xs1[64];
    float widths[64];
    for (int j = 0; j < size; j++) {
        bin(window[0], window[2] - window[0], size, j, &xs0[j], &xs1[j]);
        widths[j] = (float)(xs1[j] - xs0[j]);
    }
    long plane = (long)size * size;
    for (int i = 0; i < size; i++) {
        int64_t y0, y1;
        bin(window[1], window[3] - window[1], size, i, &y0, &y1);
        float height = (float)(y1 - y0);
        const int32_t *top = table + y0 * stride * 3, *bottom = table + y1 * stride * 3;
        for (int j = 0; j < size; j++) {
            long a = xs0[j] * 3, b = xs1[j] * 3;
            for (int c = 0; c < 3; c++) {
                int32_t sum = wrapped_sum(top[a + c], top[b + c], bottom[a + c], bottom[b + c]);
                float v = (float)sum / height;
                v /= widths[j];
                v -= 127.5f;
                out[c * plane + (long)i * size + j] = v * 0.0078125f;
            }
        }
    }
}

PyObject *crops(PyObject *self, PyObject *args) {
    (void)self; /* a module function: no instance */
    Py_buffer table, windows, out;
    Py_ssize_t stride;
    int size;
    if (!PyArg_ParseTuple(args, "y*ny*iw*", &table, &stride, &windows, &size, &out)) return NULL;
    PyObject *result = NULL;
    int64_t *w = NULL; /* the caller's windows, copied */
    long n = (long)(windows.len / 32), rows = -1;
    if ((rows = table_rows(&table, stride)) < 0) {
        /* ValueError set */
    } else if (size < 1 || size > 64) {
        PyErr_SetString(PyExc_ValueError, "crops are 1 to 64 pixels wide");
    } else if (windows.len % 32 != 0 || out.len != (Py_ssize_t)(n * 3 * size * size * 4)) {
        PyErr_Format(PyExc_ValueError, "windows must be n x 4 int64 values and the output n x 3 x %d x %d float32",
                     size, size);
    } else if (aligned_floats(&out, "the output") == 0 && (w = copy_int64(&windows, 4 * n)) != NULL) {
        for (long k = 0; k < n; k++) {
            const int64_t *v = w + 4 * k;
            if (v[0] < 0 || v[1] < 0 || v[0] >= v[2] || v[1] >= v[3] || v[2] >= stride || v[3] >= rows) {
                PyErr_Format(PyExc_ValueError, "window %ld is empty or not inside the summed-area table", k);
                break;
            }
        }
        if (!PyErr_Occurred()) {
            Py_BEGIN_ALLOW_THREADS
            for (long k = 0; k < n; k++)
                crop(table.buf, (long)stride, w + 4 * k, size, (float *)out.buf + k * 3L * size * size);
            Py_END_ALLOW_THREADS
            result = Py_NewRef(Py_None);
        }
    }
    free(w);
    PyBuffer_Release(&table), PyBuffer_Release(&windows), PyBuffer_Release(&out);
    return result;
}
