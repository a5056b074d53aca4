/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of argo-bench's latency histogram (common/tools/bench_hist.h):
 * every value lands in the bucket that holds it, buckets tile the number
 * line in order, and percentiles agree with the exact ones of a sorted copy
 * of the samples to within the documented resolution (1/32 of the value).
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_hist.h"
#include "../cunit_main.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The exact q-quantile: the ceil(q * n)-th smallest sample. */
static uint64_t exact_quantile(const uint64_t *sorted, size_t n, double q)
{
	size_t rank = (size_t)(q * (double)n);

	if ((double)rank < q * (double)n)
		rank++;
	if (rank < 1)
		rank = 1;
	return sorted[rank - 1];
}

static void test_bucket_holds_value(void)
{
	uint64_t v;
	unsigned int bad = 0;

	for (v = 0; v < 1u << 20; v += 1 + v / 97) {
		unsigned int i = bench_hist_index(v);

		if (bench_hist_lower(i) > v || v >= bench_hist_lower(i) + bench_hist_width(i))
			bad++;
	}
	for (v = 1u << 20; v < (uint64_t)1 << 47; v = v * 3 / 2 + 7) {
		unsigned int i = bench_hist_index(v);

		if (bench_hist_lower(i) > v || v >= bench_hist_lower(i) + bench_hist_width(i))
			bad++;
	}
	CU_ASSERT_EQUAL(bad, 0);
}

static void test_buckets_tile_in_order(void)
{
	unsigned int i, bad = 0;

	CU_ASSERT_EQUAL(bench_hist_lower(0), 0);
	for (i = 0; i + 1 < BENCH_HIST_BUCKETS; i++)
		if (bench_hist_lower(i) + bench_hist_width(i) != bench_hist_lower(i + 1))
			bad++;
	CU_ASSERT_EQUAL(bad, 0);
	/* Relative width: at most 1/32 of the bucket's lowest value, past
	 * the exact range. */
	for (i = 2 * BENCH_HIST_SUB, bad = 0; i < BENCH_HIST_BUCKETS; i++)
		if (bench_hist_width(i) * BENCH_HIST_SUB > bench_hist_lower(i))
			bad++;
	CU_ASSERT_EQUAL(bad, 0);
}

static void test_small_values_exact(void)
{
	uint64_t v;

	for (v = 0; v < 2 * BENCH_HIST_SUB; v++) {
		CU_ASSERT_EQUAL(bench_hist_lower(bench_hist_index(v)), v);
		CU_ASSERT_EQUAL(bench_hist_width(bench_hist_index(v)), 1);
	}
}

static void test_huge_value_clamped(void)
{
	struct bench_hist *h = malloc(sizeof(*h));

	bench_hist_init(h);
	bench_hist_add(h, UINT64_MAX / 2);
	CU_ASSERT_EQUAL(bench_hist_index(UINT64_MAX / 2), BENCH_HIST_BUCKETS - 1);
	CU_ASSERT_EQUAL(h->max, UINT64_MAX / 2);
	CU_ASSERT_EQUAL(bench_hist_quantile(h, 0.5), UINT64_MAX / 2);
	free(h);
}

static void test_empty(void)
{
	struct bench_hist *h = malloc(sizeof(*h));

	bench_hist_init(h);
	CU_ASSERT_EQUAL(bench_hist_quantile(h, 0.5), 0);
	CU_ASSERT_EQUAL(bench_hist_quantile(h, 1.0), 0);
	CU_ASSERT_DOUBLE_EQUAL(bench_hist_mean(h), 0.0, 1e-9);
	free(h);
}

/* Latency-like samples: a body around 25 us and a long tail. */
static void test_quantiles_match_sorted(void)
{
	static const double qs[] = {0.0, 0.5, 0.9, 0.99, 0.999, 1.0};
	const size_t n = 100003;
	uint64_t *s = malloc(n * sizeof(*s)), sum = 0;
	struct bench_hist *h = malloc(sizeof(*h));
	unsigned int seed = 12345, k, bad = 0;
	size_t i;

	bench_hist_init(h);
	for (i = 0; i < n; i++) {
		uint64_t v = 20000 + (uint64_t)(rand_r(&seed) % 10000);

		if (i % 100 == 0)
			v *= 1 + (uint64_t)(rand_r(&seed) % 50);
		if (i == 777)
			v = 3; /* one tiny outlier */
		s[i] = v;
		sum += v;
		bench_hist_add(h, v);
	}
	qsort(s, n, sizeof(*s), cmp_u64);
	CU_ASSERT_EQUAL(h->total, n);
	CU_ASSERT_EQUAL(h->min, s[0]);
	CU_ASSERT_EQUAL(h->max, s[n - 1]);
	CU_ASSERT_DOUBLE_EQUAL(bench_hist_mean(h), (double)sum / (double)n, 1e-6);
	for (k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		uint64_t want = exact_quantile(s, n, qs[k]), got = bench_hist_quantile(h, qs[k]);
		uint64_t diff = got > want ? got - want : want - got;

		if (diff * BENCH_HIST_SUB > want) {
			fprintf(stderr, "\n    q %.3f: histogram %llu, exact %llu\n", qs[k],
			        (unsigned long long)got, (unsigned long long)want);
			bad++;
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	free(h);
	free(s);
}

int main(void)
{
	static const struct test_def tests[] = {
	    T(test_bucket_holds_value),
	    T(test_buckets_tile_in_order),
	    T(test_small_values_exact),
	    T(test_huge_value_clamped),
	    T(test_empty),
	    T(test_quantiles_match_sorted),
	};
	static const struct suite_def suites[] = {
	    {"bench_hist", tests, N(tests), NULL, NULL, NULL, NULL},
	};

	return cunit_main(suites, N(suites));
}
