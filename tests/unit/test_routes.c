/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the relay's route table (relay/routes.c): what a link's
 * announcement changes, and above all what it does not. A table that took
 * an identical announcement for a change made idle neighbours announce to
 * each other for ever (issue 13), so "changed" is asserted both ways.
 */
#define _GNU_SOURCE
#include <CUnit/Basic.h>
#include <string.h>

#include "config.h"
#include "routes.h"
#include "../cunit_main.h"

static struct relay_config config;
static struct routes table;

/* Relay "me" with links 0 (peer "a") and 1 (peer "b"), each allowed to
 * announce any hvid (announce = *); static routes given as "HVID=LINK"
 * strings. */
static void setup_table(const char *const *statics, unsigned int nstatics)
{
	unsigned int i;

	memset(&config, 0, sizeof(config));
	strcpy(config.hvid, "me");
	config.nlinks = 2;
	strcpy(config.links[0].name, "la");
	strcpy(config.links[0].peer_hvid, "a");
	strcpy(config.links[1].name, "lb");
	strcpy(config.links[1].peer_hvid, "b");
	config.links[0].announce_any = true;
	config.links[1].announce_any = true;
	for (i = 0; i < nstatics; i++) {
		const char *eq = strchr(statics[i], '=');

		memcpy(config.routes[i].hvid, statics[i], (size_t)(eq - statics[i]));
		config.routes[i].link = (unsigned int)(eq[1] - '0');
	}
	config.nroutes = nstatics;
	routes_init(&table, &config);
}

static struct wire_route route(const char *hvid, uint8_t hops)
{
	struct wire_route r;

	memset(&r, 0, sizeof(r));
	strcpy(r.hvid, hvid);
	r.hops = hops;
	return r;
}

static const struct route *find(const char *hvid)
{
	int i;

	for (i = 0; i < table.n; i++)
		if (!strcmp(table.table[i].hvid, hvid))
			return &table.table[i];
	return NULL;
}

static bool all_up(const void *ctx, int link)
{
	(void)ctx;
	(void)link;
	return true;
}

/* The regression: a neighbour's identical announcement is no change. */
static void test_identical_announcement_no_change(void)
{
	struct wire_route ann[] = {route("a", 0), route("far", 1)};

	setup_table(NULL, 0);
	routes_learn(&table, 0, ann, 2);
	CU_ASSERT_TRUE(table.changed);
	CU_ASSERT_EQUAL(table.n, 2);
	CU_ASSERT_EQUAL(find("far")->hops, 2);
	table.changed = false;
	routes_learn(&table, 0, ann, 2);
	CU_ASSERT_FALSE(table.changed);
	CU_ASSERT_EQUAL(table.n, 2);
	CU_ASSERT_EQUAL(routes_lookup(&table, "far"), 0);
	/* The same entries in another order: still nothing new. */
	ann[0] = route("far", 1);
	ann[1] = route("a", 0);
	routes_learn(&table, 0, ann, 2);
	CU_ASSERT_FALSE(table.changed);
}

/* Two idle neighbours without static routes: each announces, each learns,
 * each announces what it has to the other. After the first exchange,
 * nothing changes any more, so nobody announces again. */
static void test_two_neighbours_settle(void)
{
	static struct relay_config config_b;
	static struct routes table_b;
	struct wire_route out[16];
	uint32_t n;
	int round, changes = 0;

	setup_table(NULL, 0);
	memset(&config_b, 0, sizeof(config_b));
	strcpy(config_b.hvid, "a");
	config_b.nlinks = 1;
	strcpy(config_b.links[0].name, "me");
	strcpy(config_b.links[0].peer_hvid, "me");
	routes_init(&table_b, &config_b);
	table.changed = table_b.changed = true; /* the links just came up */
	for (round = 0; round < 10; round++) {
		if (table.changed) {
			table.changed = false;
			n = routes_announcement(&table, 0, all_up, NULL, out, 16);
			routes_learn(&table_b, 0, out, n);
			changes++;
		}
		if (table_b.changed) {
			table_b.changed = false;
			n = routes_announcement(&table_b, 0, all_up, NULL, out, 16);
			routes_learn(&table, 0, out, n);
			changes++;
		}
	}
	CU_ASSERT_FALSE(table.changed);
	CU_ASSERT_FALSE(table_b.changed);
	/* The two first announcements, and one each for what it learned. */
	CU_ASSERT(changes <= 4);
	CU_ASSERT_EQUAL(routes_lookup(&table, "a"), 0);
	CU_ASSERT_EQUAL(routes_lookup(&table_b, "me"), 0);
}

static void test_hops_change_is_change(void)
{
	struct wire_route ann[] = {route("a", 0), route("far", 1)};

	setup_table(NULL, 0);
	routes_learn(&table, 0, ann, 2);
	table.changed = false;
	ann[1].hops = 3;
	routes_learn(&table, 0, ann, 2);
	CU_ASSERT_TRUE(table.changed);
	CU_ASSERT_EQUAL(find("far")->hops, 4);
}

/* What the link no longer says is forgotten, and that is a change. */
static void test_withdrawn_route_forgotten(void)
{
	struct wire_route ann[] = {route("a", 0), route("far", 1), route("farther", 2)};

	setup_table(NULL, 0);
	routes_learn(&table, 0, ann, 3);
	CU_ASSERT_EQUAL(table.n, 3);
	table.changed = false;
	routes_learn(&table, 0, ann, 1);
	CU_ASSERT_TRUE(table.changed);
	CU_ASSERT_EQUAL(table.n, 1);
	CU_ASSERT_PTR_NULL(find("far"));
	CU_ASSERT_PTR_NULL(find("farther"));
	CU_ASSERT_PTR_NOT_NULL(find("a"));
}

/* Static routes win over what is announced, and are never forgotten. */
static void test_static_routes_stay(void)
{
	static const char *const statics[] = {"far=1"};
	struct wire_route ann[] = {route("a", 0), route("far", 0)};

	setup_table(statics, 1);
	routes_learn(&table, 0, ann, 2);
	CU_ASSERT_EQUAL(routes_lookup(&table, "far"), 1);
	CU_ASSERT_TRUE(find("far")->is_static);
	table.changed = false;
	routes_learn(&table, 0, ann, 2);
	CU_ASSERT_FALSE(table.changed);
	routes_link_down(&table, 1);
	CU_ASSERT_EQUAL(routes_lookup(&table, "far"), 1);
}

/* A shorter way through another link replaces a longer one; a longer one
 * does not replace a shorter one. */
static void test_shorter_route_wins(void)
{
	struct wire_route via_a[] = {route("a", 0), route("far", 3)};
	struct wire_route via_b[] = {route("b", 0), route("far", 1)};

	setup_table(NULL, 0);
	routes_learn(&table, 0, via_a, 2);
	routes_learn(&table, 1, via_b, 2);
	CU_ASSERT_EQUAL(routes_lookup(&table, "far"), 1);
	CU_ASSERT_EQUAL(find("far")->hops, 2);
	table.changed = false;
	routes_learn(&table, 0, via_a, 2);
	CU_ASSERT_FALSE(table.changed);
	CU_ASSERT_EQUAL(routes_lookup(&table, "far"), 1);
	/* Link b goes down: far is forgotten until a announces again. */
	routes_link_down(&table, 1);
	CU_ASSERT_TRUE(table.changed);
	CU_ASSERT_EQUAL(routes_lookup(&table, "far"), -1);
}

/* Our own hvid and routes at the hop limit are never learned. */
static void test_ignored_entries(void)
{
	struct wire_route ann[] = {route("a", 0), route("me", 1),
	                           route("toofar", WIRE_MAX_ROUTE_HOPS)};

	setup_table(NULL, 0);
	routes_learn(&table, 0, ann, 3);
	CU_ASSERT_EQUAL(table.n, 1);
	CU_ASSERT_PTR_NULL(find("me"));
	CU_ASSERT_PTR_NULL(find("toofar"));
}

/* A reload: the static routes are the new file's, a learned route of a
 * link that stays is kept, and one of a link that is gone is forgotten. */
static void test_reconfigure(void)
{
	static const char *const statics[] = {"old=1"};
	struct wire_route via_a[] = {route("a", 0), route("far", 1)};
	struct wire_route via_b[] = {route("b", 0), route("gone", 1)};

	setup_table(statics, 1);
	routes_learn(&table, 0, via_a, 2);
	routes_learn(&table, 1, via_b, 2);
	/* The new file: link b removed (its slot left empty), a static route
	 * to far through link a, none to old. */
	memset(&config.links[1], 0, sizeof(config.links[1]));
	strcpy(config.routes[0].hvid, "far");
	config.routes[0].link = 0;
	table.changed = false;
	routes_reconfigure(&table);
	CU_ASSERT_TRUE(table.changed);
	CU_ASSERT_PTR_NULL(find("old"));
	CU_ASSERT_PTR_NULL(find("gone"));
	CU_ASSERT_PTR_NULL(find("b"));
	CU_ASSERT_PTR_NOT_NULL(find("a"));
	CU_ASSERT_TRUE(find("far")->is_static);
	CU_ASSERT_EQUAL(routes_lookup(&table, "far"), 0);
	CU_ASSERT_EQUAL(routes_lookup(&table, "b"), -1);
}

/* What a link may not announce (another link's peer, an hvid outside its
 * 'announce') is refused and counted, and refusing it again is no change
 * either. */
static void test_not_allowed_refused(void)
{
	struct wire_route ann[] = {route("a", 0), route("far", 1), route("b", 0)};

	setup_table(NULL, 0);
	config.links[0].announce_any = false;
	strcpy(config.links[0].announce[0], "near");
	config.links[0].nannounce = 1;
	CU_ASSERT_EQUAL(routes_learn(&table, 0, ann, 3), 2);
	CU_ASSERT_EQUAL(table.n, 1);
	CU_ASSERT_PTR_NULL(find("far"));
	CU_ASSERT_EQUAL(routes_lookup(&table, "b"), 1);
	table.changed = false;
	CU_ASSERT_EQUAL(routes_learn(&table, 0, ann, 3), 2);
	CU_ASSERT_FALSE(table.changed);
}

/* A reload that narrows a link's 'announce' forgets what it may no longer
 * announce, and keeps what it still may. */
static void test_reconfigure_announce(void)
{
	struct wire_route ann[] = {route("a", 0), route("far", 1), route("near", 1)};

	setup_table(NULL, 0);
	routes_learn(&table, 0, ann, 3);
	CU_ASSERT_EQUAL(table.n, 3);
	config.links[0].announce_any = false;
	strcpy(config.links[0].announce[0], "near");
	config.links[0].nannounce = 1;
	routes_reconfigure(&table);
	CU_ASSERT_PTR_NULL(find("far"));
	CU_ASSERT_PTR_NOT_NULL(find("near"));
	CU_ASSERT_PTR_NOT_NULL(find("a"));
}

int main(void)
{
	static const struct test_def tests[] = {
	    T(test_identical_announcement_no_change),
	    T(test_two_neighbours_settle),
	    T(test_hops_change_is_change),
	    T(test_withdrawn_route_forgotten),
	    T(test_static_routes_stay),
	    T(test_shorter_route_wins),
	    T(test_ignored_entries),
	    T(test_reconfigure),
	    T(test_not_allowed_refused),
	    T(test_reconfigure_announce),
	};
	static const struct suite_def suites[] = {SUITE("routes", tests)};

	return cunit_main(suites, N(suites));
}
