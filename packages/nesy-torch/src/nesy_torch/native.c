/* The whole pass of a layered circuit in one call each way (see native.py).
 *
 * The values buffer v holds one row of B values per node: the leaves' rows first (the static
 * values, then kernels of the labels: see _leaves), then node i (0 <= i < n) at row leaves + i,
 * every child in an earlier row. Node i applies op[i] to the rows child[off[i] .. off[i + 1] -
 * 1]. The backward pass adds into the gradient buffer g (same shape, the picked values'
 * gradients already in it) each node's gradient times its partial derivative in every child,
 * from the last node to the first, then gives the labels theirs; the partial derivatives are
 * the fused pass's (nesy_torch.fused): a product's is the product of the other factors (exact
 * where a factor is 0), a maximum's or minimum's is shared evenly among the children that
 * reach it, a logsumexp's is exp(child - value) (0 where every child is -inf). A sum of products
 * (SUMPROD, native.py's Program.fused) reads its children in pairs: the sum of each pair's
 * product, as a sum of two-factor products whose rows it saves, rounded as they are.
 *
 * A program's sinks (native.py's Program.sunk) are the nodes whose values go out and nowhere
 * else: forward computes each into its run of the output (or a tile of them at a time into the
 * tile rows, written out by example), and backward reads their gradients from the output's
 * (by way of the tile rows where a sink's examples are not a run), so that no row of the
 * buffers is theirs.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__AVX__)
#include <immintrin.h>
#endif

enum { SUM, PROD, MAX, MIN, LOGSUMEXP, IDENTITY, COMPLEMENT, EXP, SUMPROD };

/* a circuit as the pass reads it (native.py's Program): the last sinks nodes, read by no
   node, are the picked columns in turn, their values kept in tile rows after the others' */
struct program {
    int64_t leaves, n;
    const int8_t *op;
    const int64_t *off, *child;
    int64_t sinks, tile;
};

/* the rows of a buffer of the program's values (or gradients) */
static int64_t rows(const struct program *p) {
    return p->leaves + p->n - p->sinks + (p->sinks ? p->tile : 0);
}

/* a buffer of the program's values (or gradients) for B examples, aligned to a cache line as
   torch's are (NULL where there is no memory for it) */
static void *buffer(const struct program *p, int64_t B, size_t item) {
    size_t size = (size_t)(rows(p) * B) * item;
    return aligned_alloc(64, (size / 64 + 1) * 64);
}

/* batch columns a node's scratch values cover at a time */
#define CHUNK 256

/* the batched loops, inlined into each caller: one passes B = WIDE as a constant */
#define INLINE static inline __attribute__((always_inline))

/* how many tiles of sinks ahead the pass prefetches the output's (or its gradient's) lines
   where each example's values are a run: each example's is a stream through memory, more of
   them than the hardware tracks */
#define AHEAD 4

/* how many sinks ahead the backward pass fetches a large gradient's runs (see NAME##_grads) */
#define AHEAD_SINKS 8

/* the width of a group of examples whose loops are compiled for it, unrolled (nesy_torch.cone's
   NARROWEST: the width of every large circuit's groups, and a common batch) */
#define WIDE 32

/* n bytes (a multiple of 32) from the aligned s to d past the caches (non-temporal stores)
   where the CPU has AVX and d is aligned to 32 bytes, else by memcpy: see NAME##_nodes */
static inline void stream(void *restrict d, const void *restrict s, size_t n) {
#if defined(__AVX__)
    if ((uintptr_t)d % 32 == 0) {
        for (size_t q = 0; q < n; q += 32)
            _mm256_stream_si256((__m256i *)((char *)d + q),
                                _mm256_load_si256((const __m256i *)((const char *)s + q)));
        return;
    }
#endif
    memcpy(d, s, n);
}

/* every stream's stores visible to every thread (non-temporal stores are not ordered) */
static inline void streamed(void) {
#if defined(__AVX__)
    _mm_sfence();
#endif
}

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
                for (int64_t b = 0; b < w; b++) total[b] += EXPF(x[b] - m[b]);                   \
            }                                                                                    \
            for (int64_t b = 0; b < w; b++)                                                      \
                m[b] = total[b] == 0 ? -INFINITY : m[b] + LOGF(total[b]);                        \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
                                                                                                 \
    /* node values o (a row of B) of op over the rows c[0 .. k - 1] of v */                      \
    INLINE void NAME##_node(T *restrict o, const T *v, int64_t B, int8_t op, const int64_t *c,   \
                            int64_t k) {                                                         \
        switch (op) {                                                                            \
        case SUM:                                                                                \
        case PROD: {                                                                             \
            int sum = op == SUM;                                                                 \
            if (k == 2) { /* one pass over the row */                                            \
                const T *restrict x = v + c[0] * B, *restrict y = v + c[1] * B;                  \
                if (sum)                                                                         \
                    for (int64_t b = 0; b < B; b++) o[b] = x[b] + y[b];                          \
                else                                                                             \
                    for (int64_t b = 0; b < B; b++) o[b] = x[b] * y[b];                          \
                break;                                                                           \
            }                                                                                    \
            for (int64_t b = 0; b < B; b++) o[b] = sum ? 0 : 1;                                  \
            for (int64_t j = 0; j < k; j++) {                                                    \
                const T *restrict x = v + c[j] * B;                                              \
                if (sum)                                                                         \
                    for (int64_t b = 0; b < B; b++) o[b] += x[b];                                \
                else                                                                             \
                    for (int64_t b = 0; b < B; b++) o[b] *= x[b];                                \
            }                                                                                    \
            break;                                                                               \
        }                                                                                        \
        case SUMPROD:                                                                            \
            for (int64_t j = 0; j < k; j += 2) {                                                 \
                const T *restrict x = v + c[j] * B, *restrict y = v + c[j + 1] * B;              \
                if (j == 0)                                                                      \
                    for (int64_t b = 0; b < B; b++) o[b] = x[b] * y[b];                          \
                else                                                                             \
                    for (int64_t b = 0; b < B; b++) o[b] += x[b] * y[b];                         \
            }                                                                                    \
            break;                                                                               \
        case MAX:                                                                                \
        case MIN:                                                                                \
            NAME##_extremum(o, v, B, c, k, op == MAX);                                           \
            break;                                                                               \
        case LOGSUMEXP:                                                                          \
            NAME##_logsumexp(o, v, B, c, k);                                                     \
            break;                                                                               \
        default: {                                                                               \
            const T *restrict x = v + c[0] * B;                                                  \
            for (int64_t b = 0; b < B; b++)                                                      \
                o[b] = op == IDENTITY ? x[b] : op == COMPLEMENT ? 1 - x[b] : EXPF(x[b]);         \
        }                                                                                        \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    /* every node's row of v, then the sinks' values into out (example b's of sink s at          \
       out[b * os0 + s * os1]): each sink's straight into out where its examples are a run of it \
       (os0 1; where past and B is WIDE, past the caches: a large output's lines are then not    \
       read in first, nor do they evict the rows the next sinks read), else a tile of them at a  \
       time into the tile rows, then each example's a run */                                     \
    INLINE void NAME##_nodes(T *v, int64_t B, const struct program *p, T *out, int64_t os0,      \
                             int64_t os1, int past) {                                            \
        const int8_t *op = p->op;                                                                \
        const int64_t *off = p->off, *child = p->child;                                          \
        int64_t kept = p->n - p->sinks, G = p->sinks;                                            \
        for (int64_t i = 0; i < kept; i++)                                                       \
            NAME##_node(v + (p->leaves + i) * B, v, B, op[i], child + off[i],                    \
                        off[i + 1] - off[i]);                                                    \
        if (os0 == 1 && past && B == WIDE) {                                                     \
            T run[WIDE] __attribute__((aligned(32)));                                            \
            for (int64_t i = kept; i < p->n; i++) {                                              \
                NAME##_node(run, v, B, op[i], child + off[i], off[i + 1] - off[i]);              \
                stream(out + (i - kept) * os1, run, sizeof run);                                 \
            }                                                                                    \
            streamed();                                                                          \
            return;                                                                              \
        }                                                                                        \
        if (os0 == 1) {                                                                          \
            for (int64_t i = kept; i < p->n; i++)                                                \
                NAME##_node(out + (i - kept) * os1, v, B, op[i], child + off[i],                 \
                            off[i + 1] - off[i]);                                                \
            return;                                                                              \
        }                                                                                        \
        T *tile = v + (p->leaves + kept) * B;                                                    \
        for (int64_t s0 = 0; s0 < G; s0 += p->tile) {                                            \
            int64_t w = G - s0 < p->tile ? G - s0 : p->tile;                                     \
            for (int64_t s = 0; s < w; s++) {                                                    \
                int64_t i = kept + s0 + s;                                                       \
                NAME##_node(tile + s * B, v, B, op[i], child + off[i], off[i + 1] - off[i]);     \
            }                                                                                    \
            for (int64_t b = 0; b < B; b++)                                                      \
                for (int64_t s = 0; s < w; s++) out[b * os0 + (s0 + s) * os1] = tile[s * B + b]; \
            if (s0 + AHEAD * p->tile < G) /* each example's values a stream: see AHEAD */        \
                for (int64_t b = 0; b < B; b++)                                                  \
                    __builtin_prefetch(out + b * os0 + (s0 + AHEAD * p->tile) * os1, 1);         \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    /* the product of the children but child j, in column b */                                   \
    static T NAME##_others(const T *v, int64_t B, const int64_t *c, int64_t k, int64_t j,        \
                           int64_t b) {                                                          \
        T p = 1;                                                                                 \
        for (int64_t l = 0; l < k; l++)                                                          \
            if (l != j) p *= v[c[l] * B + b];                                                    \
        return p;                                                                                \
    }                                                                                            \
                                                                                                 \
    /* a maximum's or minimum's gradient, shared by the children equal to its value */           \
    static void NAME##_shared(const T *v, T *g, int64_t B, const T *go, const T *o,              \
                              const int64_t *c, int64_t k) {                                     \
        T hits[CHUNK];                                                                           \
        for (int64_t b0 = 0; b0 < B; b0 += CHUNK) {                                              \
            int64_t w = B - b0 < CHUNK ? B - b0 : CHUNK;                                         \
            for (int64_t b = 0; b < w; b++) hits[b] = 0;                                         \
            for (int64_t j = 0; j < k; j++)                                                      \
                for (int64_t b = 0; b < w; b++) hits[b] += v[c[j] * B + b0 + b] == o[b0 + b];    \
            for (int64_t j = 0; j < k; j++)                                                      \
                for (int64_t b = 0; b < w; b++)                                                  \
                    if (v[c[j] * B + b0 + b] == o[b0 + b])                                       \
                        g[c[j] * B + b0 + b] += go[b0 + b] / hits[b];                            \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    /* a node's gradient go (a row of B; its values o) times its partial derivatives, added      \
       into its children's rows of g (o is not read for a sink's ops: native.py's SINKS) */      \
    INLINE void NAME##_grad(const T *restrict go, const T *restrict o, const T *v, T *g,         \
                            int64_t B, int8_t op, const int64_t *c, int64_t k) {                 \
        int any = 0;                                                                             \
        for (int64_t b = 0; b < B; b++) any |= go[b] != 0;                                       \
        if (!any) return; /* no root reads this node in any column */                            \
        if (op == MAX || op == MIN) {                                                            \
            NAME##_shared(v, g, B, go, o, c, k);                                                 \
            return;                                                                              \
        }                                                                                        \
        if (op == SUMPROD) { /* each factor's gradient the other's value (a pair's two factors   \
                                may be one row: two loops) */                                    \
            for (int64_t j = 0; j < k; j += 2) {                                                 \
                const T *restrict x = v + c[j] * B, *restrict y = v + c[j + 1] * B;              \
                {                                                                                \
                    T *restrict gc = g + c[j] * B;                                               \
                    for (int64_t b = 0; b < B; b++) gc[b] += go[b] * y[b];                       \
                }                                                                                \
                {                                                                                \
                    T *restrict gc = g + c[j + 1] * B;                                           \
                    for (int64_t b = 0; b < B; b++) gc[b] += go[b] * x[b];                       \
                }                                                                                \
            }                                                                                    \
            return;                                                                              \
        }                                                                                        \
        int zero = 0; /* a product of 0 in some column: its factors' gradients exact */          \
        if (op == PROD && k > 2)                                                                 \
            for (int64_t b = 0; b < B; b++) zero |= o[b] == 0;                                   \
        for (int64_t j = 0; j < k; j++) {                                                        \
            const T *restrict x = v + c[j] * B;                                                  \
            T *restrict gc = g + c[j] * B;                                                       \
            switch (op) {                                                                        \
            case SUM:                                                                            \
            case IDENTITY:                                                                       \
                for (int64_t b = 0; b < B; b++) gc[b] += go[b];                                  \
                break;                                                                           \
            case COMPLEMENT:                                                                     \
                for (int64_t b = 0; b < B; b++) gc[b] -= go[b];                                  \
                break;                                                                           \
            case EXP:                                                                            \
                for (int64_t b = 0; b < B; b++) gc[b] += go[b] * o[b];                           \
                break;                                                                           \
            case PROD:                                                                           \
                if (k == 2) {                                                                    \
                    const T *restrict y = v + c[1 - j] * B;                                      \
                    for (int64_t b = 0; b < B; b++) gc[b] += go[b] * y[b];                       \
                } else if (!zero) { /* divided, vectorized */                                    \
                    for (int64_t b = 0; b < B; b++) gc[b] += go[b] * (o[b] / x[b]);              \
                } else {                                                                         \
                    for (int64_t b = 0; b < B; b++)                                              \
                        gc[b] += go[b] * (o[b] != 0 ? o[b] / x[b]                                \
                                                    : NAME##_others(v, B, c, k, j, b));          \
                }                                                                                \
                break;                                                                           \
            case LOGSUMEXP:                                                                      \
                for (int64_t b = 0; b < B; b++)                                                  \
                    gc[b] += go[b] * EXPF(x[b] - (o[b] == -INFINITY ? INFINITY : o[b]));         \
                break;                                                                           \
            }                                                                                    \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    /* every node's gradient spread to its children, the last node's first: the sinks' read      \
       from the (B, sinks) gout (strides gs0, gs1), in place where each sink's are a run, else   \
       into the tile rows of g, a tile at a time; fetched ahead for each tile, and where past    \
       (then past the caches, as NAME##_nodes writes a large output) */                          \
    INLINE void NAME##_grads(const T *v, T *g, int64_t B, const struct program *p,               \
                             const T *gout, int64_t gs0, int64_t gs1, int past) {                \
        const int8_t *op = p->op;                                                                \
        const int64_t *off = p->off, *child = p->child;                                          \
        int64_t kept = p->n - p->sinks, G = p->sinks;                                            \
        T *tile = g + (p->leaves + kept) * B;                                                    \
        if (gs0 == 1) /* each sink's gradients a run of gout, read in place */                   \
            for (int64_t i = p->n - 1; i >= kept; i--) {                                         \
                if (past && i - kept >= AHEAD_SINKS)                                             \
                    for (int64_t b = 0; b < B; b += 64 / sizeof(T))                              \
                        __builtin_prefetch(gout + (i - kept - AHEAD_SINKS) * gs1 + b, 0, 0);     \
                NAME##_grad(gout + (i - kept) * gs1, 0, v, g, B, op[i], child + off[i],          \
                            off[i + 1] - off[i]);                                                \
            }                                                                                    \
        else                                                                                     \
            for (int64_t s0 = G ? (G - 1) / p->tile * p->tile : -1; s0 >= 0; s0 -= p->tile) {    \
                int64_t w = G - s0 < p->tile ? G - s0 : p->tile;                                 \
                for (int64_t b = 0; b < B; b++)                                                  \
                    for (int64_t s = 0; s < w; s++)                                              \
                        tile[s * B + b] = gout[b * gs0 + (s0 + s) * gs1];                        \
                if (s0 >= AHEAD * p->tile)                                                       \
                    for (int64_t b = 0; b < B; b++) {                                            \
                        const T *ahead = gout + b * gs0 + (s0 - AHEAD * p->tile) * gs1;          \
                        if (past)                                                                \
                            __builtin_prefetch(ahead, 0, 0);                                     \
                        else                                                                     \
                            __builtin_prefetch(ahead);                                           \
                    }                                                                            \
                for (int64_t s = w - 1; s >= 0; s--) {                                           \
                    int64_t i = kept + s0 + s;                                                   \
                    NAME##_grad(tile + s * B, 0, v, g, B, op[i], child + off[i],                 \
                                off[i + 1] - off[i]);                                            \
                }                                                                                \
            }                                                                                    \
        for (int64_t i = kept - 1; i >= 0; i--) {                                                \
            int64_t r = (p->leaves + i) * B;                                                     \
            NAME##_grad(g + r, v + r, v, g, B, op[i], child + off[i], off[i + 1] - off[i]);      \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    /* one example (B = 1): a scalar per node, without the batch loops' setup */                 \
    INLINE void NAME##_node1(T *o, const T *v, int8_t op, const int64_t *c, int64_t k) {         \
        T s;                                                                                     \
        switch (op) {                                                                            \
        case SUM:                                                                                \
            s = 0;                                                                               \
            for (int64_t j = 0; j < k; j++) s += v[c[j]];                                        \
            *o = s;                                                                              \
            break;                                                                               \
        case PROD:                                                                               \
            s = 1;                                                                               \
            for (int64_t j = 0; j < k; j++) s *= v[c[j]];                                        \
            *o = s;                                                                              \
            break;                                                                               \
        case SUMPROD:                                                                            \
            s = v[c[0]] * v[c[1]];                                                               \
            for (int64_t j = 2; j < k; j += 2) s += v[c[j]] * v[c[j + 1]];                       \
            *o = s;                                                                              \
            break;                                                                               \
        case MAX:                                                                                \
        case MIN:                                                                                \
            NAME##_extremum(o, v, 1, c, k, op == MAX);                                           \
            break;                                                                               \
        case LOGSUMEXP:                                                                          \
            NAME##_logsumexp(o, v, 1, c, k);                                                     \
            break;                                                                               \
        default:                                                                                 \
            s = v[c[0]];                                                                         \
            *o = op == IDENTITY ? s : op == COMPLEMENT ? 1 - s : EXPF(s);                        \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    /* NAME##_nodes for B = 1 */                                                                 \
    static void NAME##_nodes1(T *v, const struct program *p, T *out, int64_t os) {               \
        const int64_t *off = p->off, *child = p->child;                                          \
        int64_t kept = p->n - p->sinks;                                                          \
        for (int64_t i = 0; i < p->n; i++)                                                       \
            NAME##_node1(i < kept ? v + p->leaves + i : out + (i - kept) * os, v, p->op[i],      \
                         child + off[i], off[i + 1] - off[i]);                                   \
    }                                                                                            \
                                                                                                 \
    INLINE void NAME##_grad1(const T *at_g, const T *at_v, const T *v, T *g, int8_t op,          \
                             const int64_t *c, int64_t k) {                                      \
        T go = *at_g;                                                                            \
        if (go == 0) return;                                                                     \
        switch (op) {                                                                            \
        case SUM:                                                                                \
        case IDENTITY:                                                                           \
            for (int64_t j = 0; j < k; j++) g[c[j]] += go;                                       \
            break;                                                                               \
        case COMPLEMENT:                                                                         \
            g[c[0]] -= go;                                                                       \
            break;                                                                               \
        case SUMPROD:                                                                            \
            for (int64_t j = 0; j < k; j += 2) {                                                 \
                T x = v[c[j]], y = v[c[j + 1]];                                                  \
                g[c[j]] += go * y;                                                               \
                g[c[j + 1]] += go * x;                                                           \
            }                                                                                    \
            break;                                                                               \
        case EXP:                                                                                \
            g[c[0]] += go * *at_v;                                                               \
            break;                                                                               \
        case PROD:                                                                               \
            if (k == 2) {                                                                        \
                g[c[0]] += go * v[c[1]];                                                         \
                g[c[1]] += go * v[c[0]];                                                         \
            } else {                                                                             \
                T o = *at_v;                                                                     \
                for (int64_t j = 0; j < k; j++)                                                  \
                    g[c[j]] += go * (o != 0 ? o / v[c[j]] : NAME##_others(v, 1, c, k, j, 0));    \
            }                                                                                    \
            break;                                                                               \
        case MAX:                                                                                \
        case MIN:                                                                                \
            NAME##_shared(v, g, 1, at_g, at_v, c, k);                                            \
            break;                                                                               \
        case LOGSUMEXP: {                                                                        \
            T o = *at_v;                                                                         \
            for (int64_t j = 0; j < k; j++)                                                      \
                g[c[j]] += go * EXPF(v[c[j]] - (o == -INFINITY ? INFINITY : o));                 \
            break;                                                                               \
        }                                                                                        \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    /* NAME##_grads for B = 1: the sinks' gradients read from gout in place */                   \
    static void NAME##_grads1(const T *v, T *g, const struct program *p, const T *gout,          \
                              int64_t gs1) {                                                     \
        const int64_t *off = p->off, *child = p->child;                                          \
        int64_t kept = p->n - p->sinks;                                                          \
        for (int64_t i = p->n - 1; i >= 0; i--) {                                                \
            int sink = i >= kept;                                                                \
            const T *go = sink ? gout + (i - kept) * gs1 : g + p->leaves + i;                    \
            NAME##_grad1(go, sink ? 0 : v + p->leaves + i, v, g, p->op[i], child + off[i],       \
                         off[i + 1] - off[i]);                                                   \
        }                                                                                        \
    }                                                                                            \
                                                                                                 \
    static void NAME##_batch_nodes(T *v, int64_t B, const struct program *p, T *out,             \
                                   int64_t os0, int64_t os1, int past) {                         \
        if (B == WIDE)                                                                           \
            NAME##_nodes(v, WIDE, p, out, os0, os1, past);                                       \
        else                                                                                     \
            NAME##_nodes(v, B, p, out, os0, os1, past);                                          \
    }                                                                                            \
                                                                                                 \
    static void NAME##_batch_grads(const T *v, T *g, int64_t B, const struct program *p,         \
                                   const T *gout, int64_t gs0, int64_t gs1, int past) {          \
        if (B == WIDE)                                                                           \
            NAME##_grads(v, g, WIDE, p, gout, gs0, gs1, past);                                   \
        else                                                                                     \
            NAME##_grads(v, g, B, p, gout, gs0, gs1, past);                                      \
    }                                                                                            \
                                                                                                 \
    /* the leaf rows: the S static values, then each kernel kc[0 .. nk - 1] of the K labels x    \
       (label k of example b at x[k * xs0 + b * xs1]) */                                         \
    static void NAME##_leaves(T *v, int64_t B, const T *st, int64_t S, const T *x, int64_t xs0,  \
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
    /* the leaf rows (see NAME##_leaves), every node, then the (B, G) picked values into out:    \
       out[b, g] = the value at flat position pick[b * G + g] of the (rows, B) buffer; a program \
       with sinks writes them instead, sink i into column i (past the caches where past: see     \
       NAME##_nodes), and reads no pick. The values go into v, or where v is NULL (no backward   \
       pass reads them, or B is 0) into a buffer the call allocates and frees; 1 where that      \
       fails, else 0 */                                                                          \
    int NAME##_forward(T *v, const T *st, int64_t S, const T *x, int64_t xs0, int64_t xs1,       \
                       int64_t K, const int8_t *kc, int64_t nk, T *out, int64_t os0,             \
                       int64_t os1, int past, const int64_t *pick, int64_t npick, int64_t B,     \
                       const struct program *p) {                                                \
        T *own = v ? 0 : buffer(p, B, sizeof(T));                                                \
        if (!v && !(v = own)) return 1;                                                          \
        NAME##_leaves(v, B, st, S, x, xs0, xs1, K, kc, nk);                                      \
        if (B == 1)                                                                              \
            NAME##_nodes1(v, p, out, os1);                                                       \
        else                                                                                     \
            NAME##_batch_nodes(v, B, p, out, os0, os1, past);                                    \
        for (int64_t i = 0; i < npick; i++) out[i] = v[pick[i]];                                 \
        free(own);                                                                               \
        return 0;                                                                                \
    }                                                                                            \
                                                                                                 \
    /* the gradients of every row in g (allocated zeroed; 1 where that fails, else 0): the       \
       (B, G) gradients gout (strides gs0, gs1; fetched past the caches where past) added where  \
       forward read them, every node's gradient spread to its children, then the labels'         \
       gradients into gx (strides as x's) */                                                     \
    int NAME##_backward(const T *v, const T *gout, int64_t gs0, int64_t gs1, int past,           \
                        const int64_t *pick, int64_t npick, int64_t B, T *gx, int64_t xs0,       \
                        int64_t xs1, int64_t S, int64_t K, const int8_t *kc, int64_t nk,         \
                        const struct program *p) {                                               \
        T *g = buffer(p, B, sizeof(T));                                                          \
        if (!g) return 1;                                                                        \
        memset(g, 0, (size_t)(rows(p) * B) * sizeof(T));                                         \
        int64_t G = B ? npick / B : 0;                                                           \
        for (int64_t i = 0; i < G; i++) /* where forward read them (sinks': NAME##_grads) */     \
            for (int64_t b = 0; b < B; b++) g[pick[b * G + i]] += gout[b * gs0 + i * gs1];       \
        if (B == 1)                                                                              \
            NAME##_grads1(v, g, p, gout, gs1);                                                   \
        else                                                                                     \
            NAME##_batch_grads(v, g, B, p, gout, gs0, gs1, past);                                \
        for (int64_t k = 0; k < K; k++)                                                          \
            for (int64_t b = 0; b < B; b++) {                                                    \
                T d = 0;                                                                         \
                for (int64_t j = 0; j < nk; j++) {                                               \
                    int64_t at = (S + j * K + k) * B + b;                                        \
                    d += kc[j] == IDENTITY     ? g[at]                                           \
                         : kc[j] == COMPLEMENT ? -g[at]                                          \
                                               : g[at] * v[at];                                  \
                }                                                                                \
                gx[k * xs0 + b * xs1] = d;                                                       \
            }                                                                                    \
        free(g);                                                                                 \
        return 0;                                                                                \
    }

DEFINE_PASS(float, nesy_f32, expf, logf)
DEFINE_PASS(double, nesy_f64, exp, log)
