/* What the files of _facerec_mtcnn share: the functions defined outside pnet.c (which holds the
 * module's table), and the checks every Python-facing function makes of the buffers it is given.
 *
 * The checks exist because these functions take any buffers from Python: they must refuse what
 * would make them read or write outside them, with a ValueError, never crash the interpreter. */
#ifndef FACEREC_KERNELS_H
#define FACEREC_KERNELS_H

#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* nms_keep(boxes, threshold, by_smaller, pixel_offset, keep): see nms.c. */
PyObject *nms_keep(PyObject *self, PyObject *args);
/* crops(table, table_width, windows, size, out): see crops.c. */
PyObject *crops(PyObject *self, PyObject *args);

/* Rows of a summed-area table of `width` pixels x 3 int32 in `table`, or -1 with a ValueError.
 * Divides instead of multiplying: a huge width must not wrap around into a plausible size. */
static inline long table_rows(const Py_buffer *table, Py_ssize_t width) {
    Py_ssize_t pixels = table->len / 12;
    if (width <= 0 || table->len % 12 != 0 || pixels % width != 0 || (uintptr_t)table->buf % sizeof(int32_t)) {
        PyErr_SetString(PyExc_ValueError, "table must hold rows x table_width x 3 int32 values");
        return -1;
    }
    return (long)(pixels / width);
}

/* A buffer of float32 (or int32) values that the kernels read or write in place: 4-byte aligned. */
static inline int aligned_floats(const Py_buffer *buffer, const char *what) {
    if ((uintptr_t)buffer->buf % sizeof(float)) {
        PyErr_Format(PyExc_ValueError, "%s must be aligned to 4 bytes", what);
        return -1;
    }
    return 0;
}

/* A copy of `count` int64 values, owned by the caller (free()), or NULL with MemoryError. Index
 * arrays are copied before they are checked and used: another thread could change the caller's
 * array once the GIL is released, between the check and the use. */
static inline int64_t *copy_int64(const Py_buffer *buffer, Py_ssize_t count) {
    int64_t *copy = malloc(sizeof(int64_t) * (count ? count : 1));
    if (!copy) {
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(copy, buffer->buf, sizeof(int64_t) * count);
    return copy;
}

/* A window's sum from its four corners in a summed-area table, wrapping around as numpy's int32
 * arithmetic does (a real table never wraps; a table passed in from elsewhere may, and signed
 * overflow would be undefined behaviour). */
static inline int32_t wrapped_sum(int32_t top_left, int32_t top_right, int32_t bottom_left, int32_t bottom_right) {
    uint32_t right = (uint32_t)bottom_right - (uint32_t)top_right, left = (uint32_t)bottom_left - (uint32_t)top_left;
    return (int32_t)(right - left);
}

#endif
