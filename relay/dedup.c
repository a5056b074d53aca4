/* SPDX-License-Identifier: MIT */
/*
 * What this relay has delivered into its fabric, so that it never delivers
 * a message twice, even across its own restarts.
 *
 * Every message carries its origin end to end: the epoch of the ring it was
 * first read from and its index there (wire.h, struct wire_origin). Messages
 * of one origin ring to one destination arrive in index order (links and
 * hold queues keep order), so one number per (source hvid, epoch,
 * destination) is enough: the index of the last one delivered. A copy (the
 * relay before us, or the first one, restarted and sent again what it had
 * not been told was done) comes with an index at or below it and is dropped.
 *
 * The table lives in state_dir/delivered, mapped shared: a store to it is in
 * the page cache the moment it is made, so it survives the process being
 * killed (not the machine losing power: that needs a journal with fsync,
 * and a relay machine that reboots loses its rings anyway).
 *
 * The one delivery in flight. Between the fabric accepting a message and
 * the table recording it, the process can die. So the relay writes its
 * intent first (entry, index, a fresh tag), sends with that tag
 * (argo_sendv_tagged: the fabric records the tag in the same operation as
 * the send), then records the outcome. A run that finds an intent asks the
 * fabric for its last tag: the same tag means the send happened. Without
 * tags (a fabric that lacks them) that one message may be delivered twice
 * after a restart; the log says so.
 *
 * The table is open addressing over a fixed number of entries; entries are
 * never removed (there is one per origin ring and destination, and a ring's
 * epoch changes only when it is registered afresh). When it is full, new
 * streams go unrecorded (at least once), logged.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relay.h"

#define DEDUP_MAGIC   0x5055444f47524101ull /* "\1ARGODUP" */
#define DEDUP_VERSION 1u
#define DEDUP_ENTRIES 8192u /* a power of two */

enum entry_state { ENTRY_FREE, ENTRY_CLAIMED, ENTRY_DELIVERED };

struct dedup_entry {
	uint64_t epoch;
	char hvid[WIRE_HVID_SIZE];
	uint32_t dst_port;
	uint16_t dst_domid;
	uint16_t state; /* enum entry_state */
	uint32_t last_index;
	uint32_t pad;
};

struct dedup_file {
	uint64_t magic;
	uint32_t version, nentries;
	uint64_t last_tag; /* the last tag handed out */
	/* The delivery in flight; 'valid' is written last and cleared first. */
	uint64_t intent_tag;
	uint32_t intent_slot, intent_index;
	uint32_t intent_valid, pad;
	struct dedup_entry entries[DEDUP_ENTRIES];
};

struct dedup {
	struct dedup_file *file;
	bool tags;        /* the fabric records send tags */
	bool logged_full; /* "table full" said once */
	int64_t current;  /* slot of the delivery in flight, -1 when none */
	uint32_t current_index;
};

static uint32_t key_hash(const char *hvid, uint64_t epoch, argo_domid_t domid, uint32_t port)
{
	/* FNV-1a over the key's bytes. */
	uint64_t h = 0xcbf29ce484222325ull;
	uint8_t key[WIRE_HVID_SIZE + 8 + 2 + 4];
	size_t i;

	memcpy(key, hvid, WIRE_HVID_SIZE);
	memcpy(key + WIRE_HVID_SIZE, &epoch, 8);
	memcpy(key + WIRE_HVID_SIZE + 8, &domid, 2);
	memcpy(key + WIRE_HVID_SIZE + 10, &port, 4);
	for (i = 0; i < sizeof(key); i++) {
		h ^= key[i];
		h *= 0x100000001b3ull;
	}
	return (uint32_t)(h ^ (h >> 32));
}

/* The entry of msg's stream: found, or (claim) a free one claimed for it;
 * NULL when absent (or the table is full). */
static struct dedup_entry *lookup(struct relay *relay, const struct relay_msg *msg, bool claim)
{
	struct dedup *d = relay->dedup;
	uint32_t h = key_hash(msg->src.hvid, msg->origin.epoch, msg->dst.domid, msg->dst.port);
	uint32_t i;

	for (i = 0; i < DEDUP_ENTRIES; i++) {
		struct dedup_entry *e = &d->file->entries[(h + i) & (DEDUP_ENTRIES - 1)];

		if (e->state == ENTRY_FREE) {
			if (!claim)
				return NULL;
			memset(e, 0, sizeof(*e));
			memcpy(e->hvid, msg->src.hvid, WIRE_HVID_SIZE);
			e->epoch = msg->origin.epoch;
			e->dst_domid = msg->dst.domid;
			e->dst_port = msg->dst.port;
			__atomic_store_n(&e->state, ENTRY_CLAIMED, __ATOMIC_RELEASE);
			return e;
		}
		if (e->epoch == msg->origin.epoch && e->dst_domid == msg->dst.domid &&
		    e->dst_port == msg->dst.port &&
		    memcmp(e->hvid, msg->src.hvid, WIRE_HVID_SIZE) == 0)
			return e;
	}
	if (claim && !d->logged_full) {
		d->logged_full = true;
		relay_log(0,
		          "the delivered-messages table is full (%u streams): new streams "
		          "are delivered at least once",
		          DEDUP_ENTRIES);
	}
	return NULL;
}

bool dedup_seen(struct relay *relay, const struct relay_msg *msg)
{
	const struct dedup_entry *e = lookup(relay, msg, false);

	/* Serial-number order: indexes wrap at 2^32. */
	return e && e->state == ENTRY_DELIVERED &&
	       (int32_t)(msg->origin.index - e->last_index) <= 0;
}

uint64_t dedup_begin(struct relay *relay, const struct relay_msg *msg)
{
	struct dedup *d = relay->dedup;
	struct dedup_file *f = d->file;
	struct dedup_entry *e = lookup(relay, msg, true);

	d->current = e ? e - f->entries : -1;
	d->current_index = msg->origin.index;
	if (!e || !d->tags)
		return 0;
	f->last_tag++;
	f->intent_tag = f->last_tag;
	f->intent_slot = (uint32_t)d->current;
	f->intent_index = msg->origin.index;
	/* Release: the intent's fields are in place before it is valid. */
	__atomic_store_n(&f->intent_valid, 1, __ATOMIC_RELEASE);
	return f->intent_tag;
}

void dedup_end(struct relay *relay, bool delivered)
{
	struct dedup *d = relay->dedup;
	struct dedup_file *f = d->file;

	if (d->current >= 0 && delivered) {
		struct dedup_entry *e = &f->entries[d->current];

		e->last_index = d->current_index;
		__atomic_store_n(&e->state, ENTRY_DELIVERED, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&f->intent_valid, 0, __ATOMIC_RELEASE);
	d->current = -1;
}

/* A delivery the previous run was in the middle of: did it happen? */
static void settle_intent(struct relay *relay)
{
	struct dedup *d = relay->dedup;
	struct dedup_file *f = d->file;
	uint64_t tag = 0;
	int ret;

	if (!f->intent_valid)
		return;
	if (f->intent_slot >= DEDUP_ENTRIES || f->entries[f->intent_slot].state == ENTRY_FREE) {
		relay_log(0, "state: an unfinished delivery names no stream; ignored");
	} else if ((ret = argo_last_send_tag(relay->fabric, &tag)) < 0) {
		relay_log(0,
		          "state: cannot ask the fabric whether the last delivery happened "
		          "(%s): it may be delivered twice",
		          argo_strerror(ret));
	} else if (tag == f->intent_tag) {
		struct dedup_entry *e = &f->entries[f->intent_slot];

		e->last_index = f->intent_index;
		e->state = ENTRY_DELIVERED;
		relay_log(1, "state: the delivery in flight when the last run ended happened");
	} else {
		relay_log(1,
		          "state: the delivery in flight when the last run ended did not happen");
	}
	f->intent_valid = 0;
}

int dedup_open(struct relay *relay)
{
	struct dedup *d = calloc(1, sizeof(*d));
	const char *dir = relay->config->state_dir;
	uint64_t tag;
	void *map;

	if (!d)
		return -ENOMEM;
	relay->dedup = d;
	d->current = -1;
	if (dir[0]) {
		char path[CONFIG_PATH_MAX + 16];
		struct stat st;
		int fd;

		snprintf(path, sizeof(path), "%s/delivered", dir);
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0 || fstat(fd, &st) < 0) {
			int err = errno;

			relay_log(0, "state: cannot open %s: %s", path, strerror(err));
			if (fd >= 0)
				close(fd);
			return -err;
		}
		if ((size_t)st.st_size != sizeof(struct dedup_file) && ftruncate(fd, 0) == 0 &&
		    ftruncate(fd, sizeof(struct dedup_file)) < 0) {
			int err = errno;

			relay_log(0, "state: cannot size %s: %s", path, strerror(err));
			close(fd);
			return -err;
		}
		map = mmap(NULL, sizeof(struct dedup_file), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		           0);
		close(fd);
	} else {
		map = mmap(NULL, sizeof(struct dedup_file), PROT_READ | PROT_WRITE,
		           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
	if (map == MAP_FAILED) {
		relay_log(0, "state: cannot map the delivered-messages table: %s", strerror(errno));
		return -ENOMEM;
	}
	d->file = map;
	if (d->file->magic != DEDUP_MAGIC || d->file->version != DEDUP_VERSION ||
	    d->file->nentries != DEDUP_ENTRIES) {
		if (d->file->magic)
			relay_log(0,
			          "state: %s/delivered is not ours or of another version: "
			          "started afresh",
			          dir);
		memset(d->file, 0, sizeof(*d->file));
		d->file->version = DEDUP_VERSION;
		d->file->nentries = DEDUP_ENTRIES;
		__atomic_store_n(&d->file->magic, DEDUP_MAGIC, __ATOMIC_RELEASE);
	}
	d->tags = argo_last_send_tag(relay->fabric, &tag) == 0;
	if (dir[0] && !d->tags)
		relay_log(0, "state: the fabric does not record send tags: after a restart, "
		             "the one message being delivered may arrive twice");
	settle_intent(relay);
	return 0;
}

void dedup_close(struct relay *relay)
{
	if (!relay->dedup)
		return;
	if (relay->dedup->file)
		munmap(relay->dedup->file, sizeof(struct dedup_file));
	free(relay->dedup);
	relay->dedup = NULL;
}

void dedup_dump(struct relay *relay, struct strbuf *out, bool json)
{
	const struct dedup *d = relay->dedup;
	uint32_t i, streams = 0;

	for (i = 0; d && i < DEDUP_ENTRIES; i++)
		streams += d->file->entries[i].state == ENTRY_DELIVERED;
	if (json)
		strbuf_add(out, "\"delivered_streams\":%u,\"send_tags\":%s", streams,
		           d && d->tags ? "true" : "false");
	else
		strbuf_add(out, "  delivered streams %u (of %u), send tags %s\n", streams,
		           DEDUP_ENTRIES, d && d->tags ? "yes" : "no");
}
