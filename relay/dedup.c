/* SPDX-License-Identifier: MIT */
/*
 * (dedup.h; docs/relay-design.md, "Custody", case 4.)
 *
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
 * "Below" means within DEDUP_WINDOW below it, in 32-bit serial order: a copy
 * can only be a message the first relay read again from its ring, and a
 * ring holds fewer messages than that (16 MiB / 16 bytes), while the next
 * new message to one destination may come any number of messages later on
 * a ring that feeds many destinations (the routed port).
 *
 * The table lives in state_dir/delivered, mapped shared: a store to it is in
 * the page cache the moment it is made, so it survives the process being
 * killed. With state_sync (dedup_set_sync()) every change is also written
 * through to the disk before the relay goes on (msync MS_SYNC of the pages
 * it touched: the intent before the send, the record after it), so that it
 * survives the relay's kernel going down too (power loss; on Xen, the relay's
 * own domain crashing while the receivers' domains live on). The fabric's
 * send tag does not survive that, so the one delivery in flight at such a
 * moment cannot be settled: it may arrive twice (logged), never lost.
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
 * The table is open addressing over a fixed number of entries. An entry is
 * made only by a delivery (a failed send leaves nothing behind) and stays
 * while there is room. When the table is full, the stream delivered to
 * longest ago gives its slot to the new one (the slot stays taken, so other
 * streams' probe sequences are undisturbed); a copy from that old stream
 * arriving later would be delivered again, which needs a relay restart to
 * meet a stream idle for 8192 others. Logged once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "dedup.h"
#include "log.h"

#define DEDUP_MAGIC   0x5055444f47524101ull /* "\1ARGODUP" */
#define DEDUP_VERSION 2u
#define DEDUP_ENTRIES 8192u /* a power of two */
#define DEDUP_WINDOW  (1u << 24)

enum entry_state { ENTRY_FREE, ENTRY_DELIVERED };

/* A stream: (source hvid, origin epoch, destination). */
struct dedup_key {
	uint64_t epoch;
	char hvid[WIRE_HVID_SIZE];
	uint32_t dst_port;
	uint16_t dst_domid;
	uint16_t pad;
};

struct dedup_entry {
	struct dedup_key key;
	uint32_t state; /* enum entry_state */
	uint32_t last_index;
	uint64_t stamp; /* the file's delivery count at its last delivery */
};

struct dedup_file {
	uint64_t magic;
	uint32_t version, nentries;
	uint64_t last_tag;   /* the last tag handed out */
	uint64_t deliveries; /* stamps for the entries */
	/* The delivery in flight; 'valid' is written last and cleared first. */
	struct dedup_key intent_key;
	uint64_t intent_tag;
	uint32_t intent_index;
	uint32_t intent_valid;
	struct dedup_entry entries[DEDUP_ENTRIES];
};

struct dedup {
	struct argo_fabric *fabric;
	struct dedup_file *file;
	bool tags;        /* the fabric records send tags */
	bool sync;        /* write every change through to the disk */
	bool on_disk;     /* the table is a file (state_dir) */
	bool logged_full; /* "table full" said once */
	bool logged_sync; /* a failed msync said once */
	uint64_t syncs;
	bool current;     /* a delivery is in flight: */
	struct dedup_key current_key;
	uint32_t current_index;
};

static void key_of(const struct msg *msg, struct dedup_key *key)
{
	memset(key, 0, sizeof(*key));
	key->epoch = msg->origin.epoch;
	memcpy(key->hvid, msg->src.hvid, WIRE_HVID_SIZE);
	key->dst_domid = msg->dst.domid;
	key->dst_port = msg->dst.port;
}

static uint32_t key_hash(const struct dedup_key *key)
{
	/* FNV-1a over the key's bytes (key_of zeroes the padding). */
	const uint8_t *p = (const uint8_t *)key;
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < sizeof(*key); i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return (uint32_t)(h ^ (h >> 32));
}

/* The entry of a stream, or NULL; with make, a new one when absent (the
 * slot of the stream delivered to longest ago when the table is full). */
static struct dedup_entry *lookup(struct dedup *d, const struct dedup_key *key, bool make)
{
	struct dedup_entry *e = NULL, *oldest = NULL;
	uint32_t h = key_hash(key), i;

	for (i = 0; i < DEDUP_ENTRIES; i++) {
		e = &d->file->entries[(h + i) & (DEDUP_ENTRIES - 1)];
		if (e->state == ENTRY_FREE)
			break;
		if (memcmp(&e->key, key, sizeof(*key)) == 0)
			return e;
		if (!oldest || e->stamp < oldest->stamp)
			oldest = e;
	}
	if (!make)
		return NULL;
	if (i == DEDUP_ENTRIES) {
		e = oldest;
		if (!d->logged_full) {
			d->logged_full = true;
			relay_log(0,
			          "the delivered-messages table is full (%u streams): the streams "
			          "delivered to longest ago make room",
			          DEDUP_ENTRIES);
		}
	}
	memset(e, 0, sizeof(*e));
	e->key = *key;
	return e;
}

/* With state_sync: the pages of [p, p+len) to the disk, now. */
static void sync_out(struct dedup *d, const void *p, size_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)p & ~(page - 1), end = (uintptr_t)p + len;

	if (!d->sync || !d->on_disk)
		return;
	if (msync((void *)start, end - start, MS_SYNC) < 0 && !d->logged_sync) {
		d->logged_sync = true;
		relay_log(0, "state: cannot write the delivered-messages table to disk: %s",
		          strerror(errno));
	}
	d->syncs++;
}

static void record(struct dedup *d, const struct dedup_key *key, uint32_t index)
{
	struct dedup_file *f = d->file;
	struct dedup_entry *e = lookup(d, key, true);

	e->last_index = index;
	e->stamp = ++f->deliveries;
	__atomic_store_n(&e->state, ENTRY_DELIVERED, __ATOMIC_RELEASE);
	sync_out(d, e, sizeof(*e));
}

bool dedup_seen(struct dedup *d, const struct msg *msg)
{
	const struct dedup_entry *e;
	struct dedup_key key;

	key_of(msg, &key);
	e = lookup(d, &key, false);
	/* At, or within DEDUP_WINDOW below, the last one delivered. */
	return e && e->state == ENTRY_DELIVERED &&
	       (uint32_t)(e->last_index - msg->origin.index) < DEDUP_WINDOW;
}

uint64_t dedup_begin(struct dedup *d, const struct msg *msg)
{
	struct dedup_file *f = d->file;

	key_of(msg, &d->current_key);
	d->current_index = msg->origin.index;
	d->current = true;
	if (!d->tags)
		return 0;
	f->last_tag++;
	f->intent_key = d->current_key;
	f->intent_tag = f->last_tag;
	f->intent_index = msg->origin.index;
	/* Release: the intent's fields are in place before it is valid. */
	__atomic_store_n(&f->intent_valid, 1, __ATOMIC_RELEASE);
	sync_out(d, f, offsetof(struct dedup_file, entries));
	return f->intent_tag;
}

void dedup_end(struct dedup *d, bool delivered)
{
	if (d->current && delivered)
		record(d, &d->current_key, d->current_index);
	__atomic_store_n(&d->file->intent_valid, 0, __ATOMIC_RELEASE);
	d->current = false;
}

/* A delivery the previous run was in the middle of: did it happen? */
static void settle_intent(struct dedup *d, uint64_t fabric_tag, int tag_err)
{
	struct dedup_file *f = d->file;

	if (!f->intent_valid)
		return;
	if (tag_err < 0) {
		relay_log(0,
		          "state: cannot ask the fabric whether the last delivery happened "
		          "(%s): it may be delivered twice",
		          argo_strerror(tag_err));
	} else if (fabric_tag == f->intent_tag) {
		record(d, &f->intent_key, f->intent_index);
		relay_log(1, "state: the delivery in flight when the last run ended happened");
	} else {
		/* (Or the fabric restarted since, or the machine, and the table
		 * came back from the disk: then it may have happened, and may
		 * happen again.) */
		relay_log(1,
		          "state: the delivery in flight when the last run ended did not happen");
	}
	f->intent_valid = 0;
}

int dedup_open(struct dedup **dp, const char *dir, struct argo_fabric *fabric)
{
	struct dedup *d = calloc(1, sizeof(*d));
	uint64_t tag = 0;
	int tag_err;
	void *map;

	*dp = d;
	if (!d)
		return -ENOMEM;
	d->fabric = fabric;
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
		/* A file of another size is not ours: start it afresh (a
		 * failure here would leave a short file to fault on). */
		if ((size_t)st.st_size != sizeof(struct dedup_file) &&
		    (ftruncate(fd, 0) < 0 || ftruncate(fd, sizeof(struct dedup_file)) < 0)) {
			int err = errno;

			relay_log(0, "state: cannot size %s: %s", path, strerror(err));
			close(fd);
			return -err;
		}
		map = mmap(NULL, sizeof(struct dedup_file), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		           0);
		close(fd);
		d->on_disk = true;
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
	tag_err = argo_last_send_tag(d->fabric, &tag);
	d->tags = tag_err == 0;
	if (dir[0] && !d->tags)
		relay_log(0, "state: the fabric does not record send tags: after a restart, "
		             "the one message being delivered may arrive twice");
	settle_intent(d, tag, tag_err);
	/* Tags only grow, even over a file started afresh: an old tag must
	 * never be taken for a new intent's. */
	if (d->tags && tag > d->file->last_tag)
		d->file->last_tag = tag;
	return 0;
}

void dedup_set_sync(struct dedup *d, bool sync)
{
	d->sync = sync;
}

uint64_t dedup_syncs(const struct dedup *d)
{
	return d ? d->syncs : 0;
}

void dedup_close(struct dedup *d)
{
	if (!d)
		return;
	if (d->file)
		munmap(d->file, sizeof(struct dedup_file));
	free(d);
}

void dedup_dump(const struct dedup *d, struct strbuf *out, bool json)
{
	uint32_t i, streams = 0;

	for (i = 0; d && i < DEDUP_ENTRIES; i++)
		streams += d->file->entries[i].state == ENTRY_DELIVERED;
	if (json)
		strbuf_add(out, "\"delivered_streams\":%u,\"send_tags\":%s,\"state_syncs\":%llu",
		           streams, d && d->tags ? "true" : "false",
		           (unsigned long long)(d ? d->syncs : 0));
	else
		strbuf_add(out, "  delivered streams %u (of %u), send tags %s, writes to disk %llu\n",
		           streams, DEDUP_ENTRIES, d && d->tags ? "yes" : "no",
		           (unsigned long long)(d ? d->syncs : 0));
}
