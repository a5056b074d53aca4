/* SPDX-License-Identifier: MIT */
/*
 * The main() of every CUnit program here: register the suites, run them
 * verbosely, print the one summary line tests/run-all.sh reads
 * ("N passed, N failed"), and exit 0 only if nothing failed.
 *
 * A suite whose set-up (init) failed runs none of its tests; that counts as
 * one failure, never as a pass.
 *
 * Return value of cunit_main(): 0 all passed, 1 failures, 2 the registry
 * could not be built.
 */
#ifndef ARGO_TESTS_CUNIT_MAIN_H
#define ARGO_TESTS_CUNIT_MAIN_H

#include <CUnit/Basic.h>
#include <stddef.h>
#include <stdio.h>

struct test_def {
	const char *name;
	CU_TestFunc fn;
};

/* A test named after its function. */
#define T(fn)                                                                                      \
	{                                                                                          \
#fn, fn                                                                            \
	}
#define N(a) (sizeof(a) / sizeof((a)[0]))

struct suite_def {
	const char *name;
	const struct test_def *tests;
	size_t count;
	CU_InitializeFunc init;   /* once before the suite; may be NULL */
	CU_CleanupFunc clean;     /* once after it; may be NULL */
	CU_SetUpFunc setup;       /* before each test; may be NULL */
	CU_TearDownFunc teardown; /* after each test; may be NULL */
};

/* A suite of the array 'tests', with no set-up. */
#define SUITE(name, tests)                                                                         \
	{                                                                                          \
		name, tests, N(tests), NULL, NULL, NULL, NULL                                      \
	}

static inline int cunit_main(const struct suite_def *suites, size_t nsuites)
{
	unsigned int run, failed, suites_failed;
	size_t s, t;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	for (s = 0; s < nsuites; s++) {
		const struct suite_def *d = &suites[s];
		CU_pSuite suite = CU_add_suite_with_setup_and_teardown(d->name, d->init, d->clean,
		                                                       d->setup, d->teardown);

		for (t = 0; suite && t < d->count; t++)
			if (!CU_add_test(suite, d->tests[t].name, d->tests[t].fn))
				suite = NULL;
		if (!suite) {
			CU_cleanup_registry();
			return 2;
		}
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	run = CU_get_number_of_tests_run();
	failed = CU_get_number_of_tests_failed();
	suites_failed = CU_get_number_of_suites_failed();
	CU_cleanup_registry();
	printf("\n%u passed, %u failed\n", run - failed, failed + suites_failed);
	return failed + suites_failed ? 1 : 0;
}

#endif /* ARGO_TESTS_CUNIT_MAIN_H */
