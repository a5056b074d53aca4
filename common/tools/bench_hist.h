/* SPDX-License-Identifier: MIT */
/*
 * A log-bucketed latency histogram for argo-bench (header-only): constant
 * memory whatever the number of samples, percentiles within 1/32 of the
 * value (3 %), exact minimum, maximum and mean.
 *
 * Values (nanoseconds) below 2 * BENCH_HIST_SUB are counted exactly, one
 * bucket each. Above, every power of two [2^m, 2^(m+1)) is cut into
 * BENCH_HIST_SUB equal buckets, as HdrHistogram does. A percentile is
 * reported as the middle of the bucket it falls in (clamped to the exact
 * minimum and maximum). docs/benchmarks.md says how to read them.
 */
#ifndef ARGO_BENCH_HIST_H
#define ARGO_BENCH_HIST_H

#include <stdint.h>
#include <string.h>

#define BENCH_HIST_SUB_BITS 5u
#define BENCH_HIST_SUB      (1u << BENCH_HIST_SUB_BITS)
/* Values up to 2^48 ns (3 days) have their own buckets; larger ones land
 * in the last bucket (and in max, exactly). */
#define BENCH_HIST_MAX_BITS 48u
#define BENCH_HIST_BUCKETS                                                                         \
	(2 * BENCH_HIST_SUB + (BENCH_HIST_MAX_BITS - BENCH_HIST_SUB_BITS - 1) * BENCH_HIST_SUB)

struct bench_hist {
	uint64_t counts[BENCH_HIST_BUCKETS];
	uint64_t total;
	uint64_t min, max;
	long double sum;
};

static inline void bench_hist_init(struct bench_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

static inline unsigned int bench_hist_index(uint64_t v)
{
	unsigned int msb, shift, idx;

	if (v < 2 * BENCH_HIST_SUB)
		return (unsigned int)v;
	msb = 63u - (unsigned int)__builtin_clzll(v);
	shift = msb - BENCH_HIST_SUB_BITS; /* >= 1 */
	idx = 2 * BENCH_HIST_SUB + (shift - 1) * BENCH_HIST_SUB +
	      (unsigned int)((v >> shift) - BENCH_HIST_SUB);
	return idx < BENCH_HIST_BUCKETS ? idx : BENCH_HIST_BUCKETS - 1;
}

/* The lowest value of bucket idx, and its width. */
static inline uint64_t bench_hist_lower(unsigned int idx)
{
	unsigned int shift;

	if (idx < 2 * BENCH_HIST_SUB)
		return idx;
	shift = (idx - 2 * BENCH_HIST_SUB) / BENCH_HIST_SUB + 1;
	return (uint64_t)(BENCH_HIST_SUB + (idx - 2 * BENCH_HIST_SUB) % BENCH_HIST_SUB) << shift;
}

static inline uint64_t bench_hist_width(unsigned int idx)
{
	if (idx < 2 * BENCH_HIST_SUB)
		return 1;
	return (uint64_t)1 << ((idx - 2 * BENCH_HIST_SUB) / BENCH_HIST_SUB + 1);
}

static inline void bench_hist_add(struct bench_hist *h, uint64_t v)
{
	h->counts[bench_hist_index(v)]++;
	h->total++;
	h->sum += (long double)v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

/* The value below which a fraction q (0..1) of the samples lie: the middle
 * of the bucket holding the ceil(q * total)-th smallest sample, within the
 * exact min and max. 0 when empty. */
static inline uint64_t bench_hist_quantile(const struct bench_hist *h, double q)
{
	uint64_t rank, seen = 0, v;
	unsigned int i;

	if (!h->total)
		return 0;
	if (q <= 0)
		return h->min;
	if (q >= 1)
		return h->max;
	rank = (uint64_t)(q * (double)h->total);
	if ((double)rank < q * (double)h->total)
		rank++;
	if (rank < 1)
		rank = 1;
	for (i = 0; i < BENCH_HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank)
			break;
	}
	if (i == BENCH_HIST_BUCKETS)
		return h->max;
	v = bench_hist_lower(i) + bench_hist_width(i) / 2;
	if (v < h->min)
		v = h->min;
	if (v > h->max)
		v = h->max;
	return v;
}

static inline double bench_hist_mean(const struct bench_hist *h)
{
	return h->total ? (double)(h->sum / (long double)h->total) : 0.0;
}

#endif /* ARGO_BENCH_HIST_H */
