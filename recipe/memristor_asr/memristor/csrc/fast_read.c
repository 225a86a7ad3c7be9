/*
 * Compiled CPU kernels of MemristorLinear's fast read path (see linear.py and kernel.py).
 *
 * 1. Counter-based standard normals: normal n of stream s is a Box–Muller transform of a Threefry-4x32-20
 *    block under key (seed, s) with a counter fixed by n (see normal_blocks), so every value depends
 *    only on (seed, stream, n), never on how the work is split into blocks or threads.
 * 2. The fused epilogue of one (input tile, block of columns): mean + σ·z, the ADC (round half to
 *    even on the 2^-P grid, clip), and the recombination Σ_b 2^b q of the bit planes, added into the
 *    layer's output.
 *
 * Built with -ffp-contract=off (fused multiply-adds only where written as fmaf, which IEEE 754 rounds
 * exactly) and without libm transcendentals (own log / sin / cos polynomials), so the numbers are
 * the same on every machine whatever its vector width.
 * Plain C ABI, loaded with ctypes; no Python or torch headers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#define THREEFRY_PARITY 0x1BD11BDAu /* Threefry key-schedule parity (Salmon et al., SC'11; Random123) */

#define LN2 0.693147180559945309f
#define HALF_PI 1.57079632679489662f

static inline float bits_to_float(uint32_t u) { float f; memcpy(&f, &u, sizeof f); return f; }
static inline uint32_t float_to_bits(float f) { uint32_t u; memcpy(&u, &f, sizeof u); return u; }

static inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

/* Two Threefry-4x32 rounds with rotation constants (ra0, ra1), then (rb0, rb1). */
#define THREEFRY_ROUNDS2(ra0, ra1, rb0, rb1)                                       \
    x0 += x1; x1 = rotl32(x1, ra0); x1 ^= x0; x2 += x3; x3 = rotl32(x3, ra1); x3 ^= x2; \
    x0 += x3; x3 = rotl32(x3, rb0); x3 ^= x0; x2 += x1; x1 = rotl32(x1, rb1); x1 ^= x2;
/* Four rounds (rotation set 0–3 or 4–7), then key injection s. */
#define THREEFRY_BLOCK_LO(s) THREEFRY_ROUNDS2(10, 26, 11, 21) THREEFRY_ROUNDS2(13, 27, 23, 5) THREEFRY_INJECT(s)
#define THREEFRY_BLOCK_HI(s) THREEFRY_ROUNDS2(6, 20, 17, 11) THREEFRY_ROUNDS2(25, 10, 18, 20) THREEFRY_INJECT(s)
#define THREEFRY_INJECT(s)                                                          \
    x0 += ks[(s) % 5]; x1 += ks[((s) + 1) % 5]; x2 += ks[((s) + 2) % 5]; x3 += ks[((s) + 3) % 5] + (s);

/* Threefry-4x32-20 of counter x under key k, in place: additions, constant rotations and xors only,
 * so it vectorises across counters. Checked against Random123's known-answer vectors in the tests. */
static inline void threefry4x32_20(uint32_t x[4], const uint32_t k[4]) {
    const uint32_t ks[5] = {k[0], k[1], k[2], k[3], THREEFRY_PARITY ^ k[0] ^ k[1] ^ k[2] ^ k[3]};
    uint32_t x0 = x[0] + ks[0], x1 = x[1] + ks[1], x2 = x[2] + ks[2], x3 = x[3] + ks[3];
    THREEFRY_BLOCK_LO(1u) THREEFRY_BLOCK_HI(2u) THREEFRY_BLOCK_LO(3u) THREEFRY_BLOCK_HI(4u) THREEFRY_BLOCK_LO(5u)
    x[0] = x0; x[1] = x1; x[2] = x2; x[3] = x3;
}

/* Exported for the tests' known-answer check: out = Threefry-4x32-20(counter, key). */
void mr_threefry4x32_20(const uint32_t counter[4], const uint32_t key[4], uint32_t out[4]) {
    for (int i = 0; i < 4; ++i) out[i] = counter[i];
    threefry4x32_20(out, key);
}

/* ln(x) for x in [2^-24, 1], without a division: exponent split to m in [√½, √2), then
 * ln m = f − f²/2 + f³·P(f), f = m − 1, with the degree-8 minimax P of the Cephes library's logf
 * (relative error about 1e-7). P is evaluated by Estrin's scheme: short dependency chains. */
static inline float log_unit(float x) {
    uint32_t b = float_to_bits(x);
    int32_t e = (int32_t)(b >> 23) - 127;
    float m = bits_to_float((b & 0x7fffffu) | 0x3f800000u); /* [1, 2) */
    int big = m > 1.41421356f;
    m = big ? 0.5f * m : m;
    e += big;
    const float f = m - 1.0f, f2 = f * f, f4 = f2 * f2;
    const float q01 = fmaf(-2.4999993993e-1f, f, 3.3333331174e-1f);
    const float q23 = fmaf(-1.6668057665e-1f, f, 2.0000714765e-1f);
    const float q45 = fmaf(-1.2420140846e-1f, f, 1.4249322787e-1f);
    const float q67 = fmaf(-1.1514610310e-1f, f, 1.1676998740e-1f);
    const float p = fmaf(7.0376836292e-2f, f4 * f4, fmaf(fmaf(q67, f2, q45), f4, fmaf(q23, f2, q01)));
    return fmaf((float)e, LN2, f + fmaf(p, f * f2, -0.5f * f2));
}

/* One Box–Muller pair from two 32-bit words, as the squared radius ρ² = −2 ln u (u in (0, 1] from
 * w1) and the direction (cos θ, sin θ) (θ a 24-bit turn from w2, reduced exactly in integers to a
 * quarter turn k and φ in [−π/4, π/4]); the normals are ρ·cos θ and ρ·sin θ. Keeping ρ² lets the read
 * kernel take one square root of σ²·ρ² instead of two. fmaf is exactly rounded (IEEE 754), so it
 * gives the same result with or without FMA hardware. */
static inline void box_muller(uint32_t w1, uint32_t w2, float *rho2, float *dir_cos, float *dir_sin) {
    float u = (float)((w1 >> 8) + 1u) * (1.0f / 16777216.0f);
    *rho2 = -2.0f * log_unit(u);
    int32_t n = (int32_t)(w2 >> 8);            /* θ = 2π n / 2^24 */
    int32_t k = (n + (1 << 21)) >> 22;         /* nearest quarter turn, 0…4 */
    float phi = (float)(n - (k << 22)) * (HALF_PI / 4194304.0f);
    float p2 = phi * phi, p4 = p2 * p2;
    /* Taylor polynomials on |φ| <= π/4 (next terms below 2e-9) */
    float s = phi * fmaf(fmaf(fmaf(1.0f / 362880, p2, -1.0f / 5040), p2, 1.0f / 120), p4, fmaf(-1.0f / 6, p2, 1.0f));
    float c = fmaf(fmaf(fmaf(-1.0f / 3628800, p2, 1.0f / 40320), p2, -1.0f / 720), p4 * p2,
                   fmaf(fmaf(1.0f / 24, p2, -0.5f), p2, 1.0f));
    k &= 3;
    float a = (k & 1) ? s : c;                 /* rotate (c, s) by k quarter turns */
    float d = (k & 1) ? c : s;
    *dir_cos = ((k == 1) | (k == 2)) ? -a : a;
    *dir_sin = (k >= 2) ? -d : d;
}

/* Normals come in blocks of 64 from 16 consecutive Threefry counters: normal 64·b + 16·j + i is output
 * j of counter 16·b + i, where outputs 0, 1 are the Box–Muller (cos, sin) pair of words (0, 1) and
 * outputs 2, 3 that of words (2, 3). Each normal is written as its ρ² and direction (normal =
 * sqrt(ρ²)·direction). Blocks of 16 counters fill one 512-bit register per output and need no
 * interleaving; the chunks of structure-of-arrays let the compiler vectorise Threefry and Box–Muller
 * across counters. */
#define NORMALS_PER_BLOCK 64
#define CHUNK 256 /* counters per pass, a multiple of 16 */
static void normal_blocks(float *rho2, float *dir, uint64_t first_block, int64_t n_blocks, uint64_t seed,
                          uint64_t stream) {
    const uint32_t key[4] = {(uint32_t)seed, (uint32_t)(seed >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
    uint32_t w[4][CHUNK];
    const int64_t n_counters = 16 * n_blocks;
    for (int64_t start = 0; start < n_counters; start += CHUNK) {
        const int m = (int)((n_counters - start) < CHUNK ? (n_counters - start) : CHUNK);
        const uint64_t c0 = 16 * first_block + (uint64_t)start;
        for (int i = 0; i < m; ++i) {
            uint64_t g = c0 + (uint64_t)i;
            uint32_t c[4] = {(uint32_t)g, (uint32_t)(g >> 32), 0u, 0u};
            threefry4x32_20(c, key);
            w[0][i] = c[0]; w[1][i] = c[1]; w[2][i] = c[2]; w[3][i] = c[3];
        }
        float *ro = rho2 + 4 * start, *dout = dir + 4 * start;
        for (int b = 0; b < m / 16; ++b) {
            float *rb = ro + NORMALS_PER_BLOCK * b, *db = dout + NORMALS_PER_BLOCK * b;
            for (int h = 0; h < 2; ++h) {
                float r2[16];
                for (int i = 0; i < 16; ++i)
                    box_muller(w[2 * h][16 * b + i], w[2 * h + 1][16 * b + i], &r2[i], &db[32 * h + i], &db[32 * h + 16 + i]);
                for (int i = 0; i < 16; ++i) rb[32 * h + i] = rb[32 * h + 16 + i] = r2[i];  /* cos and sin share ρ² */
            }
        }
    }
}

/* z[i] = normal number first + i of (seed, stream), i < n. Returns 0, or -1 if out of memory. */
int mr_normal(float *z, int64_t n, uint64_t seed, uint64_t stream, uint64_t first) {
    if (n <= 0) return 0;
    uint64_t b0 = first / NORMALS_PER_BLOCK, b1 = (first + (uint64_t)n - 1) / NORMALS_PER_BLOCK;
    int64_t blocks = (int64_t)(b1 - b0 + 1);
    float *rho2 = (float *)malloc(sizeof(float) * NORMALS_PER_BLOCK * (size_t)blocks);
    float *dir = (float *)malloc(sizeof(float) * NORMALS_PER_BLOCK * (size_t)blocks);
    if (!rho2 || !dir) { free(rho2); free(dir); return -1; }
    normal_blocks(rho2, dir, b0, blocks, seed, stream);
    const int64_t off = (int64_t)(first % NORMALS_PER_BLOCK);
    for (int64_t i = 0; i < n; ++i) z[i] = sqrtf(rho2[off + i]) * dir[off + i];
    free(rho2);
    free(dir);
    return 0;
}

/* ADC of values in steps: clip to ±lim, then round half to even. lim is an integer below 2^22, so
 * adding and removing 1.5·2^23 rounds exactly (in the default rounding mode) and vectorises. The clip
 * is written as two selects of the form x86's min / max instructions compute (NaN passes through). */
static inline float adc_steps(float v, float lim) {
    v = v > lim ? lim : v;
    v = v < -lim ? -lim : v;
    return (v + 12582912.0f) - 12582912.0f;
}

/* ADC of mean + σ·z in steps, with σ·z = sqrt(σ²·ρ²)·direction: one square root per element
 * (σ² below 0, from rounding, counts as 0). */
static inline float noisy_adc_steps(float mean, float sigma2, float rho2, float dir, float lim) {
    return adc_steps(mean + sqrtf((sigma2 > 0.0f ? sigma2 : 0.0f) * rho2) * dir, lim);
}

/* How mr_adc_accumulate receives the variances σ² (without the row term var_base). */
enum { VAR_NONE = 0, VAR_FLOAT32 = 1, VAR_COUNTS = 2 };

/*
 * Noise, ADC and recombination of block `block` (of n_blocks) of output columns, over rows [0, rows)
 * and input tiles [0, tiles), added into out:
 *   v = mean + sqrt(max(σ², 0)) · z                     (z only when var_kind != VAR_NONE)
 *   q = round_half_even(clip(v, ±lim))                  (values are in ADC steps)
 *   out[r·out_stride + c] += Σ_tile Σ_p plane_weight[p] · q        for c < cols
 * with σ² = var + var_base (VAR_FLOAT32: var is float32), or, for an integer matmul of 8-bit codes
 * (VAR_COUNTS: var is int32), σ² = row_scale·col_scale·(var + row_offset) + var_base; for tiles of up
 * to 259 inputs the integer sum (≤ inputs·255·254) stays below 2^24, so its conversion to float is exact.
 * Layout of mean / var: [tiles][tile_rows][planes][width] (plane-major; a thread can take a band of
 * rows <= tile_rows of every tile); var_base, row_scale, row_offset: [tiles][tile_rows]; col_scale:
 * [tiles][planes][width]. The normals of (row, tile) are numbers ((row0 + r)·n_blocks + block)·planes·width
 * + p·width + c of stream stream0 + tile: fixed by the layer's block layout, not by how the rows
 * are split. Rows are shared among `threads` OpenMP threads. Returns 0, or -1 if out of memory.
 */
int mr_adc_accumulate(const float *mean, const void *var, int var_kind, const float *row_scale,
                      const int32_t *row_offset, const float *col_scale, const float *var_base, float *out,
                      int64_t tiles, int64_t tile_rows, int64_t rows, int64_t cols, int64_t planes, int64_t width,
                      int64_t out_stride, const float *plane_weight, float lim, uint64_t seed, uint64_t stream0,
                      int64_t row0, int64_t block, int64_t n_blocks, int threads) {
    if (rows <= 0 || cols <= 0) return 0;
    const int64_t row_len = planes * width;
    const int noise = var_kind != VAR_NONE;
    int status = 0;
    /* OpenMP, so that the rows share the thread team of torch's own (OpenMP) matmuls: a second pool
     * would compete with their spinning workers for the cores */
#pragma omp parallel num_threads(threads) reduction(| : status)
    {
        float *rho2 = (float *)malloc(sizeof(float) * (size_t)(row_len + NORMALS_PER_BLOCK));
        float *dir = (float *)malloc(sizeof(float) * (size_t)(row_len + NORMALS_PER_BLOCK));
        float *acc = (float *)malloc(sizeof(float) * (size_t)cols);
        const int ok = rho2 && dir && acc;
        if (!ok) status = -1;
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; ++r) {
            if (!ok) continue;
            for (int64_t c = 0; c < cols; ++c) acc[c] = 0.0f;
            const uint64_t first = ((uint64_t)(row0 + r) * (uint64_t)n_blocks + (uint64_t)block) * (uint64_t)row_len;
            for (int64_t t = 0; t < tiles; ++t) {
                const int64_t at = (t * tile_rows + r) * row_len;
                int64_t off = 0;
                float base = 0.0f;
                if (noise) {
                    const uint64_t b0 = first / NORMALS_PER_BLOCK, b1 = (first + (uint64_t)row_len - 1) / NORMALS_PER_BLOCK;
                    normal_blocks(rho2, dir, b0, (int64_t)(b1 - b0 + 1), seed, stream0 + (uint64_t)t);
                    off = (int64_t)(first % NORMALS_PER_BLOCK);
                    base = var_base[t * tile_rows + r];
                }
                for (int64_t p = 0; p < planes; ++p) {
                    const float *m = mean + at + p * width;
                    const float *r2 = rho2 + off + p * width, *dr = dir + off + p * width;
                    const float w = plane_weight[p];
                    if (var_kind == VAR_COUNTS) {
                        const int32_t *vr = (const int32_t *)var + at + p * width;
                        const float *cs = col_scale + t * row_len + p * width;
                        const float rs = row_scale[t * tile_rows + r];
                        const int32_t ro = row_offset[t * tile_rows + r];
                        for (int64_t c = 0; c < cols; ++c)
                            acc[c] += w * noisy_adc_steps(m[c], rs * cs[c] * (float)(vr[c] + ro) + base, r2[c], dr[c], lim);
                    } else if (var_kind == VAR_FLOAT32) {
                        const float *vr = (const float *)var + at + p * width;
                        for (int64_t c = 0; c < cols; ++c)
                            acc[c] += w * noisy_adc_steps(m[c], vr[c] + base, r2[c], dr[c], lim);
                    } else {
                        for (int64_t c = 0; c < cols; ++c) acc[c] += w * adc_steps(m[c], lim);
                    }
                }
            }
            float *o = out + r * out_stride;
            for (int64_t c = 0; c < cols; ++c) o[c] += acc[c];
        }
        free(rho2);
        free(dir);
        free(acc);
    }
    return status;
}
