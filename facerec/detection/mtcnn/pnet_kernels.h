/* P-Net over one band of a pyramid level: the body of pnet.c, compiled once per instruction set.
 *
 * pnet.c includes this file several times, each time under another `#pragma GCC target` and
 * with these macros defined (the end of this file undefines them for the next inclusion):
 *   NAME(x)        the name x with the instruction set's suffix (pnet_band_avx512, ...)
 *   VP             the vector type of the planar first layer: 16 pixels (v16) or 8 (v8), so that
 *                  its ten accumulators fit the register file (32 zmm with AVX-512, 16 ymm with AVX2)
 *   CONV2_PIXELS   output pixels per register block of conv2 (16 channels: one v16 each)
 *   CONV3_PIXELS   the same for conv3 (32 channels: two v16 each)
 *
 * Layouts. The first layer reads planes (3 x width) and writes planes (10 x width), with pixels in
 * the vector lanes: three input channels and ten outputs would waste most lanes the other way.
 * Every later feature map is pixel-major with 16 or 32 channels in the lanes (conv2 reads the
 * first 10 of 16), so that a convolution is, per output pixel, one fused multiply-add of a
 * broadcast input value by a vector of weights for each tap and input channel.
 *
 * Arithmetic is float32 in the reference's order of operations where the result is checked bit
 * for bit (the area resampling, see area.py) and float32 multiply-adds elsewhere, like every
 * other fp32 convolution kernel (oneDNN's in torch, MLAS's in ONNX Runtime): results differ from
 * theirs by float32 rounding only.
 */

/* One register block of a valid convolution: P output pixels from x, NB vectors of 16 output
 * channels each, input rows in_rows[ky] with pixels of `stride` floats (the first `cin` read),
 * weights w[(ky * kw + kx) * cin + ci][NB], bias b[NB], PReLU slopes s[NB] when `act`. */
ALWAYS void NAME(conv_block)(const float *const *in_rows, int stride, const float *w, const float *b,
                             const float *s, int kh, int kw, int cin, int NB, int P, int act, int x,
                             float *out) {
    v16 acc[8][2];
    for (int p = 0; p < P; p++)
        for (int n = 0; n < NB; n++) acc[p][n] = load16(b + 16 * n);
    for (int ky = 0; ky < kh; ky++) {
        const float *row = in_rows[ky] + (long)x * stride;
        for (int kx = 0; kx < kw; kx++) {
            const float *px = row + kx * stride;
            const float *wk = w + (long)(ky * kw + kx) * cin * NB * 16;
            for (int ci = 0; ci < cin; ci++)
                for (int n = 0; n < NB; n++) {
                    v16 wv = load16(wk + (ci * NB + n) * 16);
                    for (int p = 0; p < P; p++) acc[p][n] += px[p * stride + ci] * wv;
                }
        }
    }
    for (int p = 0; p < P; p++)
        for (int n = 0; n < NB; n++) {
            v16 r = act ? prelu16(acc[p][n], load16(s + 16 * n)) : acc[p][n];
            store16(out + (long)(x + p) * NB * 16 + n * 16, r);
        }
}

/* A whole output row of `width` pixels: register blocks of P, then the rest one at a time. */
ALWAYS void NAME(conv_row)(const float *const *in_rows, int stride, const float *w, const float *b,
                           const float *s, int kh, int kw, int cin, int NB, int P, int act, int width,
                           float *out) {
    int x = 0;
    for (; x + P <= width; x += P) NAME(conv_block)(in_rows, stride, w, b, s, kh, kw, cin, NB, P, act, x, out);
    for (; x < width; x++) NAME(conv_block)(in_rows, stride, w, b, s, kh, kw, cin, NB, 1, act, x, out);
}

static void NAME(conv2_row)(const float *const *rows, int width, const float *w, float *out) {
    NAME(conv_row)(rows, 16, w + W2, w + B2, w + S2, 3, 3, 10, 1, CONV2_PIXELS, 1, width, out);
}

static void NAME(conv3_row)(const float *const *rows, int width, const float *w, float *out) {
    NAME(conv_row)(rows, 16, w + W3, w + B3, w + S3, 3, 3, 16, 2, CONV3_PIXELS, 1, width, out);
}

static void NAME(heads_row)(const float *row, int width, const float *w, float *out) {
    const float *rows[1] = {row};
    NAME(conv_row)(rows, 32, w + W4, w + B4, NULL, 1, 1, 32, 1, CONV2_PIXELS, 0, width, out);
}

#define LANES ((int)(sizeof(VP) / sizeof(float)))

/* Softmax's second channel from d = l0 - l1, as torch computes it: exp(l1 - m) / (exp(l0 - m) +
 * exp(l1 - m)) with m the larger logit, i.e. 1 / (1 + exp(d)) when l1 >= l0, else e / (1 + e) with
 * e = exp(-d). `diff` holds n values and is readable up to the next multiple of 16. */
static void NAME(face_probability)(const float *diff, int n, float *prob) {
    for (int x = 0; x < n; x += 16) {
        v16 d = load16(diff + x), zero = {0};
        v16i face = d <= zero;
        v16 e = exp_nonpositive(select16(face, d, -d));
        v16 p = select16(face, 1.0f / (1.0f + e), e / (1.0f + e));
        float out[16];
        store16(out, p);
        memcpy(prob + x, out, sizeof(float) * (n - x < 16 ? n - x : 16));
    }
}

/* 2 x 2 max-pooling (ceil mode) of one or two conv1 rows (10 planes of `cols` floats; `valid`
 * of them real) into a pixel-major row of 16-float pixels (the first 10 written). */
static void NAME(pool_row)(float *first, const float *second, int cols, int valid, int width, float *out) {
    if (second)
        for (long k = 0; k < 10L * cols; k++) first[k] = first[k] > second[k] ? first[k] : second[k];
    for (int x = 0; x < width; x++)
        for (int c = 0; c < 10; c++) {
            const float *m = first + (long)c * cols + 2 * x;
            float a = m[0], b = 2 * x + 1 < valid ? m[1] : a;
            out[x * 16 + c] = a > b ? a : b;
        }
}

/* conv1 and its PReLU for one output row: planes in[ci][ky] (rows of the level, >= cols + 2
 * floats each) -> 10 planes of `cols` floats at out + c * cols. `cols` >= LANES: the last block
 * is moved back to end at the row's end (its pixels are computed twice, the same way). */
static void NAME(conv1_row)(const float *const in[3][3], int cols, const float *w, float *out) {
    for (int x = 0;; x += LANES) {
        if (x + LANES > cols) x = cols - LANES;
        VP acc[10];
        for (int c = 0; c < 10; c++) acc[c] = (VP){0} + w[B1 + c];
        for (int ci = 0; ci < 3; ci++)
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) {
                    VP v;
                    memcpy(&v, in[ci][ky] + x + kx, sizeof v);
                    const float *wk = w + W1 + ci * 9 + ky * 3 + kx;
                    for (int c = 0; c < 10; c++) acc[c] += v * wk[c * 27];
                }
        for (int c = 0; c < 10; c++) {
            VP zero = {0}, slope = zero + w[S1 + c];
            VP r = (VP)(((VPI)acc[c] & (VPI)(acc[c] > zero)) | ((VPI)(acc[c] * slope) & ~(VPI)(acc[c] > zero)));
            memcpy(out + (long)c * cols + x, &r, sizeof r);
        }
        if (x + LANES >= cols) break;
    }
}

/* Row `i` of the level, resampled from the summed-area table and normalised: three planes of
 * `width` floats at out, out + stride, out + 2 * stride. Integer window sums, then
 * ((float)sum / height) / width, then (v - 127.5) * 0.0078125: area.resize and detector._normalise
 * bit for bit. */
static void NAME(level_row)(const struct level *lv, int i, int stride, int32_t *sums, float *out) {
    const int32_t *top = lv->table + (long)lv->ys0[i] * lv->table_width * 3;
    const int32_t *bottom = lv->table + (long)lv->ys1[i] * lv->table_width * 3;
    float height = (float)(lv->ys1[i] - lv->ys0[i]);
    for (int x = 0; x < lv->width; x++) {
        long a = lv->xs0[x] * 3, b = lv->xs1[x] * 3;
        for (int c = 0; c < 3; c++)
            sums[c * lv->width + x] = wrapped_sum(top[a + c], top[b + c], bottom[a + c], bottom[b + c]);
    }
    for (int c = 0; c < 3; c++) {
        const int32_t *s = sums + c * lv->width;
        float *o = out + (long)c * stride;
        for (int x = 0; x < lv->width; x++) {
            float v = (float)s[x] / height;
            v /= lv->widths[x];
            v -= 127.5f;
            o[x] = v * 0.0078125f;
        }
    }
}

/* P-Net output rows [r0, r1) of one level into reg (4 planes of h x w) and prob (h x w).
 *
 * Each feature map is kept only for the rows still needed, in rings: output row j reads conv3's
 * row j, which reads conv2's rows j..j+2, which read pooled rows j..j+4, each made of conv1 rows
 * 2r and 2r+1, which read level rows 2r..2r+3. Every row is computed once per band and stays in
 * the caches for the layer that reads it. Returns 0, or -1 when memory ran out. */
static int NAME(pnet_band)(const struct level *lv, const float *w, int r0, int r1, float *reg, float *prob) {
    const int H = lv->height, W = lv->width;
    const int H1 = H - 2, W1 = W - 2;             /* conv1 */
    const int C1 = W1 > LANES ? W1 : LANES;       /* conv1 columns computed (>= one vector) */
    const int Wp = (W1 + 1) / 2;                  /* 2 x 2 max-pooling, ceil mode */
    const int W2 = Wp - 2, W3 = W2 - 2;           /* conv2, conv3 (= output width) */
    const int in_stride = C1 + 2 + 16;            /* level rows: room for the vectors' reach */
    const long plane = (long)lv->out_height * W3;

    float *level = aligned(4L * 3 * in_stride), *c1 = aligned(2L * 10 * C1), *pooled = aligned(5L * Wp * 16);
    float *c2 = aligned(3L * W2 * 16), *c3 = aligned((long)W3 * 32), *heads = aligned((long)W3 * 16);
    float *diff = aligned(W3 + 16);
    int32_t *sums = (int32_t *)aligned(3L * W);
    int ok = level && c1 && pooled && c2 && c3 && heads && diff && sums;
    if (ok) {
        memset(level, 0, sizeof(float) * 4 * 3 * in_stride); /* columns past the level's edge */
        memset(diff, 0, sizeof(float) * (W3 + 16));
        int level_next = 2 * r0, pooled_next = r0, c2_next = r0;
        for (int j = r0; j < r1; j++) {
            for (; pooled_next <= j + 4; pooled_next++) {
                int r = pooled_next, rows = 2 * r + 1 < H1 ? 2 : 1;
                for (; level_next <= 2 * r + rows + 1; level_next++)
                    NAME(level_row)(lv, level_next, in_stride, sums, level + (level_next % 4) * 3L * in_stride);
                for (int k = 0; k < rows; k++) {
                    const float *in[3][3];
                    for (int ci = 0; ci < 3; ci++)
                        for (int ky = 0; ky < 3; ky++)
                            in[ci][ky] = level + ((2 * r + k + ky) % 4) * 3L * in_stride + (long)ci * in_stride;
                    NAME(conv1_row)(in, C1, w, c1 + k * 10L * C1);
                }
                NAME(pool_row)(c1, rows == 2 ? c1 + 10L * C1 : NULL, C1, W1, Wp, pooled + (r % 5) * (long)Wp * 16);
            }
            for (; c2_next <= j + 2; c2_next++) {
                const float *rows[3];
                for (int k = 0; k < 3; k++) rows[k] = pooled + ((c2_next + k) % 5) * (long)Wp * 16;
                NAME(conv2_row)(rows, W2, w, c2 + (c2_next % 3) * (long)W2 * 16);
            }
            const float *rows[3];
            for (int k = 0; k < 3; k++) rows[k] = c2 + ((j + k) % 3) * (long)W2 * 16;
            NAME(conv3_row)(rows, W3, w, c3);
            NAME(heads_row)(c3, W3, w, heads);
            for (int x = 0; x < W3; x++) {
                const float *o = heads + x * 16;
                diff[x] = o[0] - o[1];
                for (int k = 0; k < 4; k++) reg[k * plane + (long)j * W3 + x] = o[2 + k];
            }
            NAME(face_probability)(diff, W3, prob + (long)j * W3);
        }
    }
    free(level), free(c1), free(pooled), free(c2), free(c3), free(heads), free(diff), free(sums);
    return ok ? 0 : -1;
}

#undef LANES
#undef NAME
#undef VP
#undef VPI
#undef CONV2_PIXELS
#undef CONV3_PIXELS
