/* SPDX-License-Identifier: MIT */
/*
 * The sim fabric's static send firewall: an ordered list of rules, first
 * match wins, then a default. It plays the part of Xen's XSM "argo send"
 * hook: a denied sendv gets -EACCES, as a Flask denial does.
 *
 * Rule syntax (command line and config file alike):
 *   allow|deny [src DOMID[:PORT]] [dst DOMID[:PORT]]
 * where DOMID and PORT are decimal numbers or '*'; an omitted side is '*'.
 * Examples: "deny src 5", "allow src 1 dst 0:7000", "deny dst *:22".
 */
#ifndef ARGO_SIM_POLICY_H
#define ARGO_SIM_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "argo/abi.h"

/* A rule field that matches anything ('*'). Ports use all 32 bits, so the
 * fields are wider than the values they match. */
#define SIM_POLICY_ANY       (-1)
#define SIM_POLICY_MAX_RULES 1024u

struct sim_policy_rule {
	bool allow;
	int64_t src_domid, src_port; /* SIM_POLICY_ANY for '*' */
	int64_t dst_domid, dst_port;
};

struct sim_policy {
	bool default_allow;
	size_t nrules;
	struct sim_policy_rule rules[SIM_POLICY_MAX_RULES];
};

void sim_policy_init(struct sim_policy *policy, bool default_allow);

/* Parses one rule and appends it. Returns 0, -EINVAL with a reason in
 * *why (a static string) for a malformed rule, -ENOSPC when full. */
int sim_policy_add(struct sim_policy *policy, const char *text, const char **why);

/* May (src_domid, src_port) send to (dst_domid, dst_port)? */
bool sim_policy_allows(const struct sim_policy *policy, argo_domid_t src_domid, uint32_t src_port,
                       argo_domid_t dst_domid, uint32_t dst_port);

#endif /* ARGO_SIM_POLICY_H */
