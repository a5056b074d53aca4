/* SPDX-License-Identifier: MIT */
#include "sim_policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void sim_policy_init(struct sim_policy *policy, bool default_allow)
{
	policy->default_allow = default_allow;
	policy->nrules = 0;
}

/* Parses "*" or a decimal number no larger than max. */
static int parse_field(const char *s, size_t n, uint64_t max, int64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 1 && s[0] == '*') {
		*out = SIM_POLICY_ANY;
		return 0;
	}
	if (n == 0 || n > 10)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = (int64_t)v;
	return 0;
}

/* Parses "DOMID[:PORT]". */
static int parse_endpoint(const char *s, size_t n, int64_t *domid, int64_t *port)
{
	const char *colon = memchr(s, ':', n);

	*port = SIM_POLICY_ANY;
	if (!colon)
		return parse_field(s, n, XEN_DOMID_FIRST_RESERVED - 1, domid);
	if (parse_field(s, (size_t)(colon - s), XEN_DOMID_FIRST_RESERVED - 1, domid) < 0)
		return -EINVAL;
	return parse_field(colon + 1, n - (size_t)(colon - s) - 1, UINT32_MAX, port);
}

/* Next whitespace-separated word of *s, or NULL at the end. */
static const char *next_word(const char **s, size_t *n)
{
	const char *p = *s, *start;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p)
		return NULL;
	start = p;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	*n = (size_t)(p - start);
	*s = p;
	return start;
}

static bool word_is(const char *w, size_t n, const char *lit)
{
	return n == strlen(lit) && memcmp(w, lit, n) == 0;
}

int sim_policy_add(struct sim_policy *policy, const char *text, const char **why)
{
	struct sim_policy_rule rule = {
	    .src_domid = SIM_POLICY_ANY,
	    .src_port = SIM_POLICY_ANY,
	    .dst_domid = SIM_POLICY_ANY,
	    .dst_port = SIM_POLICY_ANY,
	};
	bool seen_src = false, seen_dst = false;
	const char *w;
	size_t n;

	*why = NULL;
	w = next_word(&text, &n);
	if (!w) {
		*why = "empty rule";
		return -EINVAL;
	}
	if (word_is(w, n, "allow")) {
		rule.allow = true;
	} else if (!word_is(w, n, "deny")) {
		*why = "a rule starts with 'allow' or 'deny'";
		return -EINVAL;
	}
	while ((w = next_word(&text, &n))) {
		bool is_src = word_is(w, n, "src");
		int64_t *domid = is_src ? &rule.src_domid : &rule.dst_domid;
		int64_t *port = is_src ? &rule.src_port : &rule.dst_port;
		bool *seen = is_src ? &seen_src : &seen_dst;

		if (!is_src && !word_is(w, n, "dst")) {
			*why = "expected 'src' or 'dst'";
			return -EINVAL;
		}
		if (*seen) {
			*why = is_src ? "'src' given twice" : "'dst' given twice";
			return -EINVAL;
		}
		*seen = true;
		w = next_word(&text, &n);
		if (!w || parse_endpoint(w, n, domid, port) < 0) {
			*why = "expected DOMID[:PORT] (decimal or '*', domid below 32752)";
			return -EINVAL;
		}
	}
	if (policy->nrules >= SIM_POLICY_MAX_RULES) {
		*why = "too many rules";
		return -ENOSPC;
	}
	policy->rules[policy->nrules++] = rule;
	return 0;
}

static bool field_matches(int64_t field, uint32_t value)
{
	return field == SIM_POLICY_ANY || field == (int64_t)value;
}

bool sim_policy_allows(const struct sim_policy *policy, argo_domid_t src_domid, uint32_t src_port,
                       argo_domid_t dst_domid, uint32_t dst_port)
{
	size_t i;

	for (i = 0; i < policy->nrules; i++) {
		const struct sim_policy_rule *r = &policy->rules[i];

		if (field_matches(r->src_domid, src_domid) &&
		    field_matches(r->src_port, src_port) &&
		    field_matches(r->dst_domid, dst_domid) && field_matches(r->dst_port, dst_port))
			return r->allow;
	}
	return policy->default_allow;
}
