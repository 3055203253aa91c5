/* The functions of _facerec_mtcnn defined outside pnet.c (which holds the module's table). */
#ifndef FACEREC_KERNELS_H
#define FACEREC_KERNELS_H

#include <Python.h>

/* nms_keep(boxes, threshold, by_smaller, pixel_offset, keep): see nms.c. */
PyObject *nms_keep(PyObject *self, PyObject *args);

/* crops(table, table_width, windows, size, out): see crops.c. */
PyObject *crops(PyObject *self, PyObject *args);

#endif
