/* SPDX-License-Identifier: MIT */
/*
 * argo-relayd's configuration: one INI file per relay (docs/relay-config.md).
 * Parsing is its own stage, as in relayd: config_load() reads and checks
 * everything (including key files) and either returns a complete, valid
 * struct relay_config or an error naming the file, the line and the problem.
 * Nothing else in the relay reads the file.
 */
#ifndef ARGO_RELAY_CONFIG_H
#define ARGO_RELAY_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "auth.h"
#include "transport.h"
#include "wire.h"

#define CONFIG_MAX_LINKS    32
#define CONFIG_MAX_ROUTES   256
#define CONFIG_MAX_IMPORTS  256
#define CONFIG_MAX_RULES    256
#define CONFIG_NAME_MAX     32
#define CONFIG_PATH_MAX     256
#define CONFIG_ADDR_MAX     TRANSPORT_ADDR_MAX
#define CONFIG_MAX_ANNOUNCE 32

struct config_link {
	char name[CONFIG_NAME_MAX]; /* from [link NAME] */
	enum transport_kind transport;
	bool listen; /* listen = ADDR (else connect = ADDR) */
	char address[CONFIG_ADDR_MAX];
	char peer_hvid[WIRE_HVID_SIZE]; /* the hvid the peer must announce */
	/* How it authenticates: a pre-shared key file (the default), or
	 * certificates (cert, cert_key, ca) when cert_file is set. */
	char key_file[CONFIG_PATH_MAX];
	struct auth_psk psk; /* loaded and checked at parse time; wiped once used */
	char cert_file[CONFIG_PATH_MAX], cert_key_file[CONFIG_PATH_MAX], ca_file[CONFIG_PATH_MAX];
	/* The hvids the peer may announce routes to and send from, besides
	 * its own (docs/relay-config.md, "announce"); announce_any: '*'. */
	char announce[CONFIG_MAX_ANNOUNCE][WIRE_HVID_SIZE];
	unsigned int nannounce;
	bool announce_any;
	/* A leaf endpoint's link (relay/leaf.c): the libargo URI of the domain
	 * the relay holds for it (a sim static socket); "" for a relay link. */
	char leaf[CONFIG_ADDR_MAX];
	unsigned int line; /* where the section starts, for messages */
};

struct config_route {
	char hvid[WIRE_HVID_SIZE];
	unsigned int link; /* index into links[] */
};

/* A port of the relay's own domain that stands for a remote endpoint:
 * whatever a local guest sends there goes to target. */
struct config_import {
	uint32_t port;
	argo_domid_t partner; /* XEN_ARGO_DOMID_ANY unless 'from DOMID' */
	struct wire_gaddr target;
};

/* A policy rule: fields empty / -1 match anything. First match wins. */
struct config_rule {
	bool allow;
	char src_hvid[WIRE_HVID_SIZE], dst_hvid[WIRE_HVID_SIZE];
	int32_t src_domid, dst_domid;
	int64_t src_port, dst_port;
};

/* How state_dir/delivered reaches the disk (state_sync; dedup.h). */
enum state_sync {
	STATE_SYNC_NO,    /* the page cache only: survives the relay, not its machine */
	STATE_SYNC_BATCH, /* once per round of the loop, before what it settled is let go */
	STATE_SYNC_EACH,  /* after every message settled */
};

struct relay_config {
	char path[CONFIG_PATH_MAX]; /* the file it came from */
	char hvid[WIRE_HVID_SIZE];
	char fabric[CONFIG_ADDR_MAX];  /* libargo URI */
	char control[CONFIG_PATH_MAX]; /* control socket for argo-relayctl */
	uint32_t control_mode;         /* its file mode (0600) */
	int64_t control_group;         /* its group, -1: the relay's own */
	char state_dir[CONFIG_PATH_MAX];
	enum state_sync state_sync; /* how state_dir/delivered reaches the disk (dedup.h) */
	char user[CONFIG_NAME_MAX]; /* drop privileges after start-up */
	uint64_t queue_bytes;       /* bound on messages held, in bytes */
	uint32_t ring_len;          /* length of the rings the relay registers */
	uint32_t proxy_port_min, proxy_port_max;
	unsigned int max_auth_failures;
	unsigned int reset_backoff_ms, reconnect_ms, ping_ms;
	uint32_t report_rate; /* undeliverable reports a second per destination; 0: no limit */

	struct config_link links[CONFIG_MAX_LINKS];
	unsigned int nlinks;
	struct config_route routes[CONFIG_MAX_ROUTES];
	unsigned int nroutes;
	struct config_import imports[CONFIG_MAX_IMPORTS];
	unsigned int nimports;
	bool default_allow;
	struct config_rule rules[CONFIG_MAX_RULES];
	unsigned int nrules;
};

/*
 * Reads and checks the file. Key files must belong to key_owner (normally
 * the uid the relay runs as) with mode 0600 or stricter. On error returns
 * a negative errno and writes "FILE:LINE: problem" (or "FILE: problem")
 * into why.
 */
int config_load(const char *path, uid_t key_owner, struct relay_config *config, char *why,
                size_t cap);
/* The same, with flags: CONFIG_SYNTAX_ONLY checks the file alone, without
 * reading the key and certificate files (each link's psk stays empty, one
 * key per link is not checked) or looking up
 * control_group (argo-relayd --check-config --syntax-only). Whether 'user'
 * exists is the caller's to check (argo-relayd does, unless syntax only). */
#define CONFIG_SYNTAX_ONLY 1u
int config_load_flags(const char *path, uid_t key_owner, unsigned int flags,
                      struct relay_config *config, char *why, size_t cap);

/* What is valid but probably not meant (a policy that allows nothing, no
 * state_dir, root without 'user' when euid is 0): each said through say();
 * returns the count. */
unsigned int config_warnings(const struct relay_config *config, uid_t euid,
                             void (*say)(void *ctx, const char *text), void *ctx);

/* Wipes every key the configuration holds (at exit; after the links have
 * derived what they need). */
void config_wipe_keys(struct relay_config *config);

/* Does a rule set allow src to send to dst? */
bool config_policy_allows(const struct relay_config *config, const struct wire_gaddr *src,
                          const struct wire_gaddr *dst);

#endif /* ARGO_RELAY_CONFIG_H */
