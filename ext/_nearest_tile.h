/* Nearest codeword for one tile of rows, fused: dot products, scores and the
 * running argmin never leave the registers. The compute core of
 * ext/_codebook.pyx.
 *
 * A tile is R = 4 * W rows (W = SIMD lanes: 8 float32 or 4 float64 in 256 bits).
 * Its rows are first copied transposed into ``buf`` (D, R), so one vector holds
 * coordinate d of W rows. Then, for two codes at a time,
 *
 *     acc[j] = sum_d  x[rows of vector j, d] * (-2 C[k, d])      (8 vector multiply-adds per d)
 *     score  = ||c_k||^2 + acc[j]
 *
 * and a compare + two bitwise selects keep, per row, the lowest score and its
 * code; codes are visited in increasing order and the compare is strict, so a
 * tie keeps the lower index. Every code goes through the same arithmetic, so
 * identical codewords get identical scores. K must be even: the caller pads an
 * odd codebook with a zero code whose ||c||^2 = +inf never wins.
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

#define TILE_VECS 4   /* vectors per tile: 4 x 8 = 32 float32 rows, 4 x 4 = 16 float64 rows */

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
    for (ptrdiff_t k = 0; k < K; k += 2) {  /* two codes per pass; K even */    \
        const T *u = C2 + k * D, *v = u + D;                                   \
        V a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};                              \
        V e0 = {0}, e1 = {0}, e2 = {0}, e3 = {0};                              \
        for (ptrdiff_t d = 0; d < D; d++) {                                    \
            const V *xd = xt + d * TILE_VECS;                                  \
            a0 += xd[0] * u[d]; a1 += xd[1] * u[d];                            \
            a2 += xd[2] * u[d]; a3 += xd[3] * u[d];                            \
            e0 += xd[0] * v[d]; e1 += xd[1] * v[d];                            \
            e2 += xd[2] * v[d]; e3 += xd[3] * v[d];                            \
        }                                                                      \
        V s;                                                                   \
        s = a0 + cc[k]; KEEP_BEST(b[0], c[0], s, k, V, I, IT);                 \
        s = a1 + cc[k]; KEEP_BEST(b[1], c[1], s, k, V, I, IT);                 \
        s = a2 + cc[k]; KEEP_BEST(b[2], c[2], s, k, V, I, IT);                 \
        s = a3 + cc[k]; KEEP_BEST(b[3], c[3], s, k, V, I, IT);                 \
        s = e0 + cc[k + 1]; KEEP_BEST(b[0], c[0], s, k + 1, V, I, IT);         \
        s = e1 + cc[k + 1]; KEEP_BEST(b[1], c[1], s, k + 1, V, I, IT);         \
        s = e2 + cc[k + 1]; KEEP_BEST(b[2], c[2], s, k + 1, V, I, IT);         \
        s = e3 + cc[k + 1]; KEEP_BEST(b[3], c[3], s, k + 1, V, I, IT);         \
    }                                                                          \
    for (ptrdiff_t r = 0; r < rows; r++) {                                     \
        best_out[r] = b[r / W][r % W];                                         \
        code_out[r] = (int64_t)c[r / W][r % W];                                \
    }                                                                          \
}

DEFINE_NEAREST_TILE(nearest_tile_f32, float, f32x8, i32x8, int32_t, 8)
DEFINE_NEAREST_TILE(nearest_tile_f64, double, f64x4, i64x4, int64_t, 4)

#endif
