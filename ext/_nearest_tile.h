/* Nearest codeword for one tile of rows, fused: dot products, scores and the
 * running argmin never leave the registers. The compute core of
 * ext/_codebook.pyx.
 *
 * A tile is R = 2 * W rows (W = SIMD lanes: 8 float32 or 4 float64 in 256 bits).
 * Its rows are first copied transposed into ``scratch`` (D, R), so one vector
 * holds coordinate d of W rows. Then, for six codes at a time,
 *
 *     acc[c][j] = sum_d  x[rows of vector j, d] * (-2 C[k + c, d])
 *     score     = ||c_{k+c}||^2 + acc[c][j]
 *
 * 12 accumulators in registers; per d, 2 vector loads of x and 6 broadcasts of
 * the codebook (laid out (K/6, D, 6) by the caller, so the six are adjacent)
 * feed 12 vector multiply-adds -- few loads per multiply-add, the shape of a
 * BLAS micro-kernel.
 *
 * and a compare + two bitwise selects keep, per row, the lowest score and its
 * code; codes are visited in increasing order and the compare is strict, so a
 * tie keeps the lower index. Every code goes through the same arithmetic, so
 * identical codewords get identical scores. K must be a multiple of 6: the
 * caller pads the codebook with zero codes whose ||c||^2 = +inf never win.
 *
 * Why C: the vectors are GCC/Clang vector extensions (portable, no intrinsics),
 * and GCC's ``target_clones`` builds an AVX2 and a baseline (SSE2) version
 * of each tile function and picks one at load time from the CPU it runs on --
 * no -march=native. A compiler without vector extensions (MSVC) fails this
 * extension's build; setup.py then installs the Numba version instead.
 */
#ifndef MINIH2REC_NEAREST_TILE_H
#define MINIH2REC_NEAREST_TILE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define MINIH2REC_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define MINIH2REC_CLONES
#endif

typedef float   f32x8 __attribute__((vector_size(32)));
typedef int32_t i32x8 __attribute__((vector_size(32)));
typedef double  f64x4 __attribute__((vector_size(32)));
typedef int64_t i64x4 __attribute__((vector_size(32)));

#define TILE_VECS 2   /* vectors per tile: 2 x 8 = 16 float32 rows, 2 x 4 = 8 float64 rows */

/* bytes of scratch a thread needs for tiles of D columns (+ 32 to align it) */
#define TILE_BUF_BYTES(D) ((size_t)(D) * TILE_VECS * 32 + 32)

static inline void *align32(void *p) { return (void *)(((uintptr_t)p + 31) & ~(uintptr_t)31); }

/* keep the lower of (best, s) per lane, and k where s wins (strict <) */
#define KEEP_BEST(best, code, s, k, V, I, IT) do {                          \
        I m_ = (s) < (best);                                                   \
        (best) = (V)(((I)(s) & m_) | ((I)(best) & ~m_));                       \
        (code) = (((I){0} + (IT)(k)) & m_) | ((code) & ~m_);                   \
    } while (0)

#define DEFINE_NEAREST_TILE(NAME, T, V, I, IT, W)                              \
MINIH2REC_CLONES                                                               \
static void NAME(const T *x, ptrdiff_t rows, ptrdiff_t D,                      \
                 const T *C2, const T *cc, ptrdiff_t K,                        \
                 void *scratch, T *best_out, int64_t *code_out)                \
{                                                                              \
    V *xt = (V *)align32(scratch);                 /* (D, TILE_VECS) vectors */\
    T *xs = (T *)xt;                                                           \
    for (ptrdiff_t d = 0; d < D; d++)                                          \
        for (ptrdiff_t r = 0; r < TILE_VECS * W; r++)                          \
            xs[d * TILE_VECS * W + r] = r < rows ? x[r * D + d] : (T)0;        \
    V b[TILE_VECS];                                                            \
    I c[TILE_VECS];                                                            \
    for (int j = 0; j < TILE_VECS; j++) {                                      \
        b[j] = (V){0} + (T)INFINITY;                                           \
        c[j] = (I){0};                                                         \
    }                                                                          \
    for (ptrdiff_t k = 0; k < K; k += 6) {  /* six codes per pass; C2 as (K/6, D, 6) */ \
        const T *u = C2 + k * D;                                               \
        V p0a = {0}, p0b = {0}, p1a = {0}, p1b = {0}, p2a = {0}, p2b = {0};  /* pJx: code k+J, vector x */ \
        V p3a = {0}, p3b = {0}, p4a = {0}, p4b = {0}, p5a = {0}, p5b = {0};    \
        for (ptrdiff_t d = 0; d < D; d++) {                                    \
            const V x0 = xt[2 * d], x1 = xt[2 * d + 1];                        \
            const T *w = u + 6 * d;                                            \
            p0a += x0 * w[0]; p0b += x1 * w[0];                                \
            p1a += x0 * w[1]; p1b += x1 * w[1];                                \
            p2a += x0 * w[2]; p2b += x1 * w[2];                                \
            p3a += x0 * w[3]; p3b += x1 * w[3];                                \
            p4a += x0 * w[4]; p4b += x1 * w[4];                                \
            p5a += x0 * w[5]; p5b += x1 * w[5];                                \
        }                                                                      \
        V s;                                                                   \
        s = p0a + cc[k]; KEEP_BEST(b[0], c[0], s, k, V, I, IT);                \
        s = p0b + cc[k]; KEEP_BEST(b[1], c[1], s, k, V, I, IT);                \
        s = p1a + cc[k + 1]; KEEP_BEST(b[0], c[0], s, k + 1, V, I, IT);        \
        s = p1b + cc[k + 1]; KEEP_BEST(b[1], c[1], s, k + 1, V, I, IT);        \
        s = p2a + cc[k + 2]; KEEP_BEST(b[0], c[0], s, k + 2, V, I, IT);        \
        s = p2b + cc[k + 2]; KEEP_BEST(b[1], c[1], s, k + 2, V, I, IT);        \
        s = p3a + cc[k + 3]; KEEP_BEST(b[0], c[0], s, k + 3, V, I, IT);        \
        s = p3b + cc[k + 3]; KEEP_BEST(b[1], c[1], s, k + 3, V, I, IT);        \
        s = p4a + cc[k + 4]; KEEP_BEST(b[0], c[0], s, k + 4, V, I, IT);        \
        s = p4b + cc[k + 4]; KEEP_BEST(b[1], c[1], s, k + 4, V, I, IT);        \
        s = p5a + cc[k + 5]; KEEP_BEST(b[0], c[0], s, k + 5, V, I, IT);        \
        s = p5b + cc[k + 5]; KEEP_BEST(b[1], c[1], s, k + 5, V, I, IT);        \
    }                                                                          \
    for (ptrdiff_t r = 0; r < rows; r++) {                                     \
        best_out[r] = b[r / W][r % W];                                         \
        code_out[r] = (int64_t)c[r / W][r % W];                                \
    }                                                                          \
}

DEFINE_NEAREST_TILE(nearest_tile_f32, float, f32x8, i32x8, int32_t, 8)
DEFINE_NEAREST_TILE(nearest_tile_f64, double, f64x4, i64x4, int64_t, 4)

#endif
