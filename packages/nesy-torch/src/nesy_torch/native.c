/* The whole pass of a layered circuit in one call each way (see native.py).
 *
 * The values buffer v holds one row of B values per node: the leaves' rows first (the static
 * values, then kernels of the labels: see _leaves), then node i (0 <= i < n) at row leaves + i,
 * every child in an earlier row. Node i applies op[i] to the rows child[off[i] .. off[i + 1] -
 * 1]. The backward pass adds into the gradient buffer g (same shape, the roots' gradients
 * already in it) each node's gradient times its partial derivative in every child, from the
 * last node to the first, then gives the labels theirs; the partial derivatives are the fused
 * pass's (nesy_torch.fused): a product's is the product of the other factors (exact where a
 * factor is 0), a maximum's or minimum's is shared evenly among the children that reach it,
 * a logsumexp's is exp(child - value) (0 where every child is -inf). A sum of products
 * (SUMPROD, native.py's Program.fused) reads its children in pairs: the sum of each pair's
 * product, as a sum of two-factor products whose rows it saves, rounded as they are.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { SUM, PROD, MAX, MIN, LOGSUMEXP, IDENTITY, COMPLEMENT, EXP, SUMPROD };

/* a circuit as the pass reads it (native.py's Program) */
struct program {
    int64_t leaves, n;
    const int8_t *op;
    const int64_t *off, *child;
};

/* batch columns a node's scratch values cover at a time */
#define CHUNK 256

/* picked rows whose values forward writes out together, each example's TILE values a run */
#define TILE 16

/* the batched loops, inlined into each caller: one passes B = WIDE as a constant */
#define INLINE static inline __attribute__((always_inline))

/* the width of a group of examples whose loops are compiled for it, unrolled (nesy_torch.cone's
   NARROWEST: the width of every large circuit's groups, and a common batch) */
#define WIDE 32

#define DEFINE_PASS(T, NAME, EXPF, LOGF)                                                         \
    static void NAME##_extremum(T *restrict o, const T *v, int64_t B, const int64_t *c,          \
                                int64_t k, int high) {                                           \
        for (int64_t b = 0; b < B; b++) o[b] = high ? -INFINITY : INFINITY;                      \
        for (int64_t j = 0; j < k; j++) {                                                        \
            const T *restrict x = v + c[j] * B;                                                  \
            for (int64_t b = 0; b < B; b++) {                                                    \
                int better = high ? x[b] > o[b] : x[b] < o[b];                                   \
                o[b] = (better || x[b] != x[b]) ? x[b] : o[b];                                   \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    static void NAME##_logsumexp(T *restrict o, const T *v, int64_t B, const int64_t *c,         \
                                 int64_t k) {                                                    \
        T total[CHUNK];                                                                          \
        NAME##_extremum(o, v, B, c, k, 1);                                                       \
        for (int64_t b0 = 0; b0 < B; b0 += CHUNK) {                                              \
            int64_t w = B - b0 < CHUNK ? B - b0 : CHUNK;                                         \
            T *restrict m = o + b0;                                                              \
            for (int64_t b = 0; b < w; b++) {                                                    \
                m[b] = isfinite(m[b]) ? m[b] : 0;                                                \
                total[b] = 0;                                                                    \
            }                                                                                    \
            for (int64_t j = 0; j < k; j++) {                                                    \
                const T *restrict x = v + c[j] * B + b0;                                         \
                for (int64_t b = 0; b < w; b++) total[b] += EXPF(x[b] - m[b]);                  \
            }                                                                                    \
            for (int64_t b = 0; b < w; b++)                                                      \
                m[b] = total[b] == 0 ? -INFINITY : m[b] + LOGF(total[b]);                        \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    INLINE void NAME##_nodes(T *v, int64_t B, int64_t leaves, int64_t n, const int8_t *op,       \
                             const int64_t *off, const int64_t *child) {                         \
        for (int64_t i = 0; i < n; i++) {                                                        \
            T *restrict o = v + (leaves + i) * B;                                                \
            const int64_t *c = child + off[i];                                                   \
            int64_t k = off[i + 1] - off[i];                                                     \
            switch (op[i]) {                                                                     \
            case SUM:                                                                            \
            case PROD: {                                                                         \
                int sum = op[i] == SUM;                                                          \
                if (k == 2) { /* one pass over the row */                                        \
                    const T *restrict x = v + c[0] * B, *restrict y = v + c[1] * B;              \
                    if (sum)                                                                     \
                        for (int64_t b = 0; b < B; b++) o[b] = x[b] + y[b];                      \
                    else                                                                         \
                        for (int64_t b = 0; b < B; b++) o[b] = x[b] * y[b];                      \
                    break;                                                                       \
                }                                                                                \
                for (int64_t b = 0; b < B; b++) o[b] = sum ? 0 : 1;                              \
                for (int64_t j = 0; j < k; j++) {                                                \
                    const T *restrict x = v + c[j] * B;                                          \
                    if (sum)                                                                     \
                        for (int64_t b = 0; b < B; b++) o[b] += x[b];                            \
                    else                                                                         \
                        for (int64_t b = 0; b < B; b++) o[b] *= x[b];                            \
                }                                                                                \
                break;                                                                           \
            }                                                                                    \
            case SUMPROD:                                                                        \
                for (int64_t j = 0; j < k; j += 2) {                                             \
                    const T *restrict x = v + c[j] * B, *restrict y = v + c[j + 1] * B;          \
                    if (j == 0)                                                                  \
                        for (int64_t b = 0; b < B; b++) o[b] = x[b] * y[b];                      \
                    else                                                                         \
                        for (int64_t b = 0; b < B; b++) o[b] += x[b] * y[b];                     \
                }                                                                                \
                break;                                                                           \
            case MAX:                                                                            \
            case MIN:                                                                            \
                NAME##_extremum(o, v, B, c, k, op[i] == MAX);                                    \
                break;                                                                           \
            case LOGSUMEXP:                                                                      \
                NAME##_logsumexp(o, v, B, c, k);                                                 \
                break;                                                                           \
            default: {                                                                           \
                const T *restrict x = v + c[0] * B;                                              \
                for (int64_t b = 0; b < B; b++)                                                  \
                    o[b] = op[i] == IDENTITY ? x[b] : op[i] == COMPLEMENT ? 1 - x[b] : EXPF(x[b]); \
            }                                                                                    \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    /* the product of the children but child j, in column b */                                  \
    static T NAME##_others(const T *v, int64_t B, const int64_t *c, int64_t k, int64_t j,        \
                           int64_t b) {                                                          \
        T p = 1;                                                                                 \
        for (int64_t l = 0; l < k; l++)                                                          \
            if (l != j) p *= v[c[l] * B + b];                                                    \
        return p;                                                                                \
    }                                                                                            \
                                                                                                 \
    /* a maximum's or minimum's gradient, shared by the children equal to its value */         \
    static void NAME##_shared(const T *v, T *g, int64_t B, const T *go, const T *o,             \
                              const int64_t *c, int64_t k) {                                     \
        T hits[CHUNK];                                                                           \
        for (int64_t b0 = 0; b0 < B; b0 += CHUNK) {                                              \
            int64_t w = B - b0 < CHUNK ? B - b0 : CHUNK;                                         \
            for (int64_t b = 0; b < w; b++) hits[b] = 0;                                         \
            for (int64_t j = 0; j < k; j++)                                                      \
                for (int64_t b = 0; b < w; b++) hits[b] += v[c[j] * B + b0 + b] == o[b0 + b];   \
            for (int64_t j = 0; j < k; j++)                                                      \
                for (int64_t b = 0; b < w; b++)                                                  \
                    if (v[c[j] * B + b0 + b] == o[b0 + b])                                       \
                        g[c[j] * B + b0 + b] += go[b0 + b] / hits[b];                            \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    INLINE void NAME##_grads(const T *v, T *g, int64_t B, int64_t leaves, int64_t n,             \
                             const int8_t *op, const int64_t *off, const int64_t *child) {       \
        for (int64_t i = n - 1; i >= 0; i--) {                                                   \
            const T *restrict go = g + (leaves + i) * B;                                         \
            const T *restrict o = v + (leaves + i) * B;                                          \
            const int64_t *c = child + off[i];                                                   \
            int64_t k = off[i + 1] - off[i];                                                     \
            int any = 0;                                                                         \
            for (int64_t b = 0; b < B; b++) any |= go[b] != 0;                                   \
            if (!any) continue; /* no root reads this node in any column */                      \
            if (op[i] == MAX || op[i] == MIN) {                                                  \
                NAME##_shared(v, g, B, go, o, c, k);                                             \
                continue;                                                                        \
            }                                                                                    \
            if (op[i] == SUMPROD) { /* each factor's gradient the other's value (a pair's two  \
                                       factors may be one row: two loops) */                    \
                for (int64_t j = 0; j < k; j += 2) {                                             \
                    const T *restrict x = v + c[j] * B, *restrict y = v + c[j + 1] * B;          \
                    {                                                                            \
                        T *restrict gc = g + c[j] * B;                                           \
                        for (int64_t b = 0; b < B; b++) gc[b] += go[b] * y[b];                   \
                    }                                                                            \
                    {                                                                            \
                        T *restrict gc = g + c[j + 1] * B;                                       \
                        for (int64_t b = 0; b < B; b++) gc[b] += go[b] * x[b];                   \
                    }                                                                            \
                }                                                                                \
                continue;                                                                        \
            }                                                                                    \
            int zero = 0; /* a product of 0 in some column: its factors' gradients exact */      \
            if (op[i] == PROD && k > 2)                                                          \
                for (int64_t b = 0; b < B; b++) zero |= o[b] == 0;                               \
            for (int64_t j = 0; j < k; j++) {                                                    \
                const T *restrict x = v + c[j] * B;                                              \
                T *restrict gc = g + c[j] * B;                                                   \
                switch (op[i]) {                                                                 \
                case SUM:                                                                        \
                case IDENTITY:                                                                   \
                    for (int64_t b = 0; b < B; b++) gc[b] += go[b];                              \
                    break;                                                                       \
                case COMPLEMENT:                                                                 \
                    for (int64_t b = 0; b < B; b++) gc[b] -= go[b];                              \
                    break;                                                                       \
                case EXP:                                                                        \
                    for (int64_t b = 0; b < B; b++) gc[b] += go[b] * o[b];                       \
                    break;                                                                       \
                case PROD:                                                                       \
                    if (k == 2) {                                                                \
                        const T *restrict y = v + c[1 - j] * B;                                  \
                        for (int64_t b = 0; b < B; b++) gc[b] += go[b] * y[b];                   \
                    } else if (!zero) { /* divided, vectorized */                                \
                        for (int64_t b = 0; b < B; b++) gc[b] += go[b] * (o[b] / x[b]);          \
                    } else {                                                                     \
                        for (int64_t b = 0; b < B; b++)                                          \
                            gc[b] += go[b] * (o[b] != 0 ? o[b] / x[b]                            \
                                                        : NAME##_others(v, B, c, k, j, b));      \
                    }                                                                            \
                    break;                                                                       \
                case LOGSUMEXP:                                                                  \
                    for (int64_t b = 0; b < B; b++)                                              \
                        gc[b] += go[b] * EXPF(x[b] - (o[b] == -INFINITY ? INFINITY : o[b]));     \
                    break;                                                                       \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    /* one example (B = 1): a scalar loop per node, without the batch loops' setup */          \
    static void NAME##_nodes1(T *v, int64_t leaves, int64_t n, const int8_t *op,                 \
                              const int64_t *off, const int64_t *child) {                        \
        for (int64_t i = 0; i < n; i++) {                                                        \
            T *o = v + leaves + i, s;                                                            \
            const int64_t *c = child + off[i];                                                   \
            int64_t k = off[i + 1] - off[i];                                                     \
            switch (op[i]) {                                                                     \
            case SUM:                                                                            \
                s = 0;                                                                           \
                for (int64_t j = 0; j < k; j++) s += v[c[j]];                                    \
                *o = s;                                                                          \
                break;                                                                           \
            case PROD:                                                                           \
                s = 1;                                                                           \
                for (int64_t j = 0; j < k; j++) s *= v[c[j]];                                    \
                *o = s;                                                                          \
                break;                                                                           \
            case SUMPROD:                                                                        \
                s = v[c[0]] * v[c[1]];                                                           \
                for (int64_t j = 2; j < k; j += 2) s += v[c[j]] * v[c[j + 1]];                   \
                *o = s;                                                                          \
                break;                                                                           \
            case MAX:                                                                            \
            case MIN:                                                                            \
                NAME##_extremum(o, v, 1, c, k, op[i] == MAX);                                    \
                break;                                                                           \
            case LOGSUMEXP:                                                                      \
                NAME##_logsumexp(o, v, 1, c, k);                                                 \
                break;                                                                           \
            default:                                                                             \
                s = v[c[0]];                                                                     \
                *o = op[i] == IDENTITY ? s : op[i] == COMPLEMENT ? 1 - s : EXPF(s);              \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    static void NAME##_grads1(const T *v, T *g, int64_t leaves, int64_t n, const int8_t *op,    \
                              const int64_t *off, const int64_t *child) {                        \
        for (int64_t i = n - 1; i >= 0; i--) {                                                   \
            T go = g[leaves + i], o = v[leaves + i];                                             \
            const int64_t *c = child + off[i];                                                   \
            int64_t k = off[i + 1] - off[i];                                                     \
            if (go == 0) continue;                                                               \
            switch (op[i]) {                                                                     \
            case SUM:                                                                            \
            case IDENTITY:                                                                       \
                for (int64_t j = 0; j < k; j++) g[c[j]] += go;                                   \
                break;                                                                           \
            case COMPLEMENT:                                                                     \
                g[c[0]] -= go;                                                                   \
                break;                                                                           \
            case SUMPROD:                                                                        \
                for (int64_t j = 0; j < k; j += 2) {                                             \
                    T x = v[c[j]], y = v[c[j + 1]];                                              \
                    g[c[j]] += go * y;                                                           \
                    g[c[j + 1]] += go * x;                                                       \
                }                                                                                \
                break;                                                                           \
            case EXP:                                                                            \
                g[c[0]] += go * o;                                                               \
                break;                                                                           \
            case PROD:                                                                           \
                if (k == 2) {                                                                    \
                    g[c[0]] += go * v[c[1]];                                                     \
                    g[c[1]] += go * v[c[0]];                                                     \
                } else                                                                           \
                    for (int64_t j = 0; j < k; j++)                                              \
                        g[c[j]] += go * (o != 0 ? o / v[c[j]] : NAME##_others(v, 1, c, k, j, 0)); \
                break;                                                                           \
            case MAX:                                                                            \
            case MIN:                                                                            \
                NAME##_shared(v, g, 1, g + leaves + i, v + leaves + i, c, k);                    \
                break;                                                                           \
            case LOGSUMEXP:                                                                      \
                for (int64_t j = 0; j < k; j++)                                                  \
                    g[c[j]] += go * EXPF(v[c[j]] - (o == -INFINITY ? INFINITY : o));             \
                break;                                                                           \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    static void NAME##_batch_nodes(T *v, int64_t B, int64_t leaves, int64_t n, const int8_t *op, \
                                   const int64_t *off, const int64_t *child) {                   \
        if (B == WIDE)                                                                           \
            NAME##_nodes(v, WIDE, leaves, n, op, off, child);                                    \
        else                                                                                     \
            NAME##_nodes(v, B, leaves, n, op, off, child);                                       \
    }                                                                                            \
                                                                                                 \
    static void NAME##_batch_grads(const T *v, T *g, int64_t B, int64_t leaves, int64_t n,       \
                                   const int8_t *op, const int64_t *off, const int64_t *child) { \
        if (B == WIDE)                                                                           \
            NAME##_grads(v, g, WIDE, leaves, n, op, off, child);                                 \
        else                                                                                     \
            NAME##_grads(v, g, B, leaves, n, op, off, child);                                    \
    }                                                                                            \
                                                                                                 \
    /* the leaf rows: the S static values, then each kernel kc[0 .. nk - 1] of the K labels x   \
       (label k of example b at x[k * xs0 + b * xs1]) */                                        \
    static void NAME##_leaves(T *v, int64_t B, const T *st, int64_t S, const T *x, int64_t xs0, \
                              int64_t xs1, int64_t K, const int8_t *kc, int64_t nk) {            \
        for (int64_t r = 0; r < S; r++)                                                          \
            for (int64_t b = 0; b < B; b++) v[r * B + b] = st[r];                                \
        for (int64_t j = 0; j < nk; j++)                                                         \
            for (int64_t k = 0; k < K; k++) {                                                    \
                T *restrict o = v + (S + j * K + k) * B;                                         \
                const T *restrict a = x + k * xs0;                                               \
                for (int64_t b = 0; b < B; b++)                                                  \
                    o[b] = kc[j] == IDENTITY     ? a[b * xs1]                                    \
                           : kc[j] == COMPLEMENT ? 1 - a[b * xs1]                                \
                                                 : EXPF(a[b * xs1]);                             \
            }                                                                                    \
    }                                                                                            \
                                                                                                 \
    /* the leaf rows (see NAME##_leaves), every node, then the (B, G) picked values into out:   \
       out[b, i] = the value of row pick[i] (flat: out[b, g] at flat position pick[b * G + g]) */ \
    void NAME##_forward(T *v, const T *st, int64_t S, const T *x, int64_t xs0, int64_t xs1,     \
                        int64_t K, const int8_t *kc, int64_t nk, T *out, const int64_t *pick,    \
                        int64_t npick, int64_t flat, int64_t B, const struct program *p) {       \
        NAME##_leaves(v, B, st, S, x, xs0, xs1, K, kc, nk);                                      \
        if (B == 1)                                                                              \
            NAME##_nodes1(v, p->leaves, p->n, p->op, p->off, p->child);                          \
        else                                                                                     \
            NAME##_batch_nodes(v, B, p->leaves, p->n, p->op, p->off, p->child);                  \
        if (flat)                                                                                \
            for (int64_t i = 0; i < npick; i++) out[i] = v[pick[i]];                             \
        else                                                                                     \
            for (int64_t i0 = 0; i0 < npick; i0 += TILE) { /* TILE rows, then the next */      \
                int64_t w = npick - i0 < TILE ? npick - i0 : TILE;                               \
                for (int64_t b = 0; b < B; b++)                                                  \
                    for (int64_t i = i0; i < i0 + w; i++) out[b * npick + i] = v[pick[i] * B + b]; \
            }                                                                                    \
    }                                                                                            \
                                                                                                 \
    /* the gradients of every row in g (allocated zeroed; 1 where that fails, else 0): the     \
       (B, G) gradients gout (strides gs0, gs1) added where forward read them, every node's    \
       gradient spread to its children, then the labels' gradients into gx (strides as x's) */ \
    int NAME##_backward(const T *v, const T *gout, int64_t gs0, int64_t gs1, const int64_t *pick, \
                        int64_t npick, int64_t flat, int64_t B, T *gx, int64_t xs0, int64_t xs1, \
                        int64_t S, int64_t K, const int8_t *kc, int64_t nk,                      \
                        const struct program *p) {                                               \
        size_t size = (size_t)((p->leaves + p->n) * B) * sizeof(T);                              \
        T *g = aligned_alloc(64, (size / 64 + 1) * 64); /* rows start cache lines, as torch's */ \
        if (!g) return 1;                                                                        \
        memset(g, 0, size);                                                                      \
        int64_t G = !flat ? npick : B ? npick / B : 0;                                           \
        for (int64_t i = 0; i < G; i++) /* as forward wrote out */                              \
            for (int64_t b = 0; b < B; b++)                                                      \
                g[flat ? pick[b * G + i] : pick[i] * B + b] += gout[b * gs0 + i * gs1];          \
        if (B == 1)                                                                              \
            NAME##_grads1(v, g, p->leaves, p->n, p->op, p->off, p->child);                       \
        else                                                                                     \
            NAME##_batch_grads(v, g, B, p->leaves, p->n, p->op, p->off, p->child);               \
        for (int64_t k = 0; k < K; k++)                                                          \
            for (int64_t b = 0; b < B; b++) {                                                    \
                T d = 0;                                                                         \
                for (int64_t j = 0; j < nk; j++) {                                               \
                    int64_t at = (S + j * K + k) * B + b;                                        \
                    d += kc[j] == IDENTITY ? g[at] : kc[j] == COMPLEMENT ? -g[at] : g[at] * v[at]; \
                }                                                                                \
                gx[k * xs0 + b * xs1] = d;                                                       \
            }                                                                                    \
        free(g);                                                                                 \
        return 0;                                                                                \
    }

DEFINE_PASS(float, nesy_f32, expf, logf)
DEFINE_PASS(double, nesy_f64, exp, log)
