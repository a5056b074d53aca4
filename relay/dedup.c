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
 * killed. With state_sync (dedup_set_sync()) the records also reach the
 * disk before the messages they settle are acknowledged to the relay
 * before us (msync MS_SYNC of the pages touched), so that the table
 * survives the relay's kernel going down too (power loss; on Xen, the
 * relay's own domain crashing while the receivers' domains live on): a
 * message acknowledged is never sent to us again, and one not acknowledged
 * is known by its record if it was delivered. STATE_SYNC_EACH writes each
 * record as it is made (one msync per message); STATE_SYNC_BATCH (state_sync
 * = yes) leaves them dirty, and the relay calls dedup_flush() once at the
 * end of each round of its loop, before it lets go of the messages
 * delivered in that round (fabric_out.c holds them until then): one msync
 * for all of them. docs/relay-design.md has the measured costs. The intent
 * is never written through: what settles it after a restart is the
 * fabric's send tag, which does not survive what the disk survives for (on
 * sim the fabric dies with the machine; on Xen the tag is argo.ko's, in the
 * relay's own domain), so after such a crash the one delivery in flight
 * cannot be settled either way: it may arrive twice (logged), never lost.
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
#define DEDUP_VERSION 3u    /* 2 + the totals after the entries (a 2 grows into it) */
#define DEDUP_ENTRIES 8192u /* a power of two */
#define DEDUP_WINDOW  (1u << 24)
/* Messages settled undeliverable remembered with their errno (a journal,
 * oldest overwritten), so that a copy of any of them is reported again:
 * copies come only of what the relays before had not been told was done,
 * at most a link's in-flight limit (WIRE_MAX_IN_FLIGHT) at a time. */
#define DEDUP_JOURNAL 8192u

/* An entry's state: FREE, or what became of its last message: DELIVERED,
 * or UNDELIVERABLE with the errno the sender was told in the bits above
 * ENTRY_KIND_MASK. */
enum entry_state { ENTRY_FREE, ENTRY_DELIVERED, ENTRY_UNDELIVERABLE };
#define ENTRY_KIND_MASK   0xffu
#define ENTRY_ERROR_SHIFT 8

/* What an intent is about: a send (settled by the fabric's tag), or a
 * message settled undeliverable (no send: the next run finishes it). */
enum intent_kind { INTENT_DELIVER, INTENT_UNDELIVERABLE };

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
	/* Version 3. What this relay settled in its fabric since the file was
	 * made, across its restarts, each message once: the totals an
	 * accounting across SIGKILLs adds up (docs/relay-control.md,
	 * "Accounting"). An intent sets its total to intent_expect, so that
	 * finishing it twice counts it once. */
	uint64_t delivered, undeliverable;
	uint32_t intent_kind; /* enum intent_kind (0, a send, in a version 2 file) */
	uint32_t intent_error;
	uint64_t intent_expect;
	uint64_t journal_next; /* the next slot of the journal (mod DEDUP_JOURNAL) */
	struct dedup_undelivered {
		struct dedup_key key;
		uint32_t index;
		uint32_t error; /* 0: a free slot */
	} journal[DEDUP_JOURNAL];
};

/* A version 2 file: the same, without the totals and the journal. */
#define DEDUP_V2_SIZE     offsetof(struct dedup_file, delivered)
#define DEDUP_TOTALS_SIZE (offsetof(struct dedup_file, journal) - DEDUP_V2_SIZE)

struct dedup {
	struct argo_fabric *fabric;
	struct dedup_file *file;
	bool tags; /* the fabric records send tags */
	enum state_sync sync;
	bool on_disk;     /* the table is a file (state_dir) */
	bool logged_full; /* "table full" said once */
	bool logged_sync; /* a failed msync said once */
	uint64_t syncs;
	/* STATE_SYNC_BATCH: the bytes of the file written since the last
	 * flush ([dirty_lo, dirty_hi), offsets; empty when equal). */
	size_t dirty_lo, dirty_hi;
	bool current; /* a delivery is in flight: */
	struct dedup_key current_key;
	uint32_t current_index;
	uint64_t current_expect; /* the delivered total once it is done */
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

/* The pages of [p, p+len) to the disk, now. */
static void write_through(struct dedup *d, const void *p, size_t len)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t start = (uintptr_t)p & ~(page - 1), end = (uintptr_t)p + len;

	if (msync((void *)start, end - start, MS_SYNC) < 0 && !d->logged_sync) {
		d->logged_sync = true;
		relay_log(0, "state: cannot write the delivered-messages table to disk: %s",
		          strerror(errno));
	}
	d->syncs++;
}

/* A record was written at [p, p+len): to the disk now (each), or at the
 * next flush (batch). */
static void sync_out(struct dedup *d, const void *p, size_t len)
{
	size_t lo = (size_t)((const char *)p - (const char *)d->file), hi = lo + len;

	if (!d->on_disk || d->sync == STATE_SYNC_NO)
		return;
	if (d->sync == STATE_SYNC_EACH) {
		write_through(d, p, len);
		return;
	}
	if (d->dirty_lo == d->dirty_hi) {
		d->dirty_lo = lo;
		d->dirty_hi = hi;
		return;
	}
	if (lo < d->dirty_lo)
		d->dirty_lo = lo;
	if (hi > d->dirty_hi)
		d->dirty_hi = hi;
}

bool dedup_dirty(const struct dedup *d)
{
	return d->dirty_lo != d->dirty_hi;
}

void dedup_flush(struct dedup *d)
{
	if (!dedup_dirty(d))
		return;
	write_through(d, (char *)d->file + d->dirty_lo, d->dirty_hi - d->dirty_lo);
	d->dirty_lo = d->dirty_hi = 0;
}

/* The message of that index of the stream is settled: state says how. */
static void record(struct dedup *d, const struct dedup_key *key, uint32_t index, uint32_t state)
{
	struct dedup_file *f = d->file;
	struct dedup_entry *e = lookup(d, key, true);

	e->last_index = index;
	e->stamp = ++f->deliveries;
	__atomic_store_n(&e->state, state, __ATOMIC_RELEASE);
	sync_out(d, e, sizeof(*e));
}

/* A total brought up to date: to the disk with the records (batch: the
 * same flush; each: its own write, as the totals are in another page). */
static void sync_totals(struct dedup *d)
{
	if (d->sync == STATE_SYNC_BATCH)
		sync_out(d, &d->file->delivered, DEDUP_TOTALS_SIZE);
}

/* A message of that stream settled undeliverable, into the journal (the
 * slot an intent finishing it again would take holds the same). */
static void journal(struct dedup *d, const struct dedup_key *key, uint32_t index, uint32_t error)
{
	struct dedup_file *f = d->file;
	struct dedup_undelivered *j = &f->journal[f->journal_next % DEDUP_JOURNAL];

	if (j->error && j->index == index && !memcmp(&j->key, key, sizeof(*key))) {
		f->journal_next++; /* written by a run that died before this */
		return;
	}
	j->error = 0;
	j->key = *key;
	j->index = index;
	__atomic_store_n(&j->error, error ? error : EIO, __ATOMIC_RELEASE);
	sync_out(d, j, sizeof(*j));
	f->journal_next++;
}

/* A total brought to what an intent expects (never back). */
static void total_to(uint64_t *total, uint64_t expect)
{
	if (expect > *total)
		*total = expect;
}

bool dedup_seen(struct dedup *d, const struct msg *msg, int *error)
{
	const struct dedup_entry *e;
	struct dedup_key key;
	bool seen;

	key_of(msg, &key);
	e = lookup(d, &key, false);
	/* At, or within DEDUP_WINDOW below, the last one settled. */
	seen = e && e->state != ENTRY_FREE &&
	       (uint32_t)(e->last_index - msg->origin.index) < DEDUP_WINDOW;
	if (!error)
		return seen;
	*error = 0;
	if (!seen)
		return false;
	if (e->last_index == msg->origin.index &&
	    (e->state & ENTRY_KIND_MASK) == ENTRY_UNDELIVERABLE) {
		*error = (int)(e->state >> ENTRY_ERROR_SHIFT);
		return true;
	}
	/* An older one: undeliverable if the journal says so (a copy is
	 * rare, so it can take a look through it). */
	for (uint32_t i = 0; i < DEDUP_JOURNAL; i++) {
		const struct dedup_undelivered *j = &d->file->journal[i];

		if (j->error && j->index == msg->origin.index &&
		    !memcmp(&j->key, &key, sizeof(key))) {
			*error = (int)j->error;
			break;
		}
	}
	return true;
}

/* Writes the intent: its fields first, 'valid' last (release). */
static void write_intent(struct dedup *d, const struct dedup_key *key, uint32_t index, uint64_t tag,
                         enum intent_kind kind, uint32_t error, uint64_t expect)
{
	struct dedup_file *f = d->file;

	f->intent_key = *key;
	f->intent_tag = tag;
	f->intent_index = index;
	f->intent_kind = kind;
	f->intent_error = error;
	f->intent_expect = expect;
	/* Not written through: the fabric's tag that settles it does not
	 * survive a crash of the machine (above). */
	__atomic_store_n(&f->intent_valid, 1, __ATOMIC_RELEASE);
}

void dedup_undeliverable(struct dedup *d, const struct msg *msg, int error)
{
	struct dedup_file *f = d->file;
	struct dedup_key key;
	uint64_t expect = f->undeliverable + 1;

	key_of(msg, &key);
	write_intent(d, &key, msg->origin.index, 0, INTENT_UNDELIVERABLE, (uint32_t)error, expect);
	record(d, &key, msg->origin.index,
	       ENTRY_UNDELIVERABLE | ((uint32_t)error << ENTRY_ERROR_SHIFT));
	journal(d, &key, msg->origin.index, (uint32_t)error);
	total_to(&f->undeliverable, expect);
	sync_totals(d);
	__atomic_store_n(&f->intent_valid, 0, __ATOMIC_RELEASE);
}

uint64_t dedup_begin(struct dedup *d, const struct msg *msg)
{
	struct dedup_file *f = d->file;

	key_of(msg, &d->current_key);
	d->current_index = msg->origin.index;
	d->current_expect = f->delivered + 1;
	d->current = true;
	if (!d->tags)
		return 0;
	f->last_tag++;
	write_intent(d, &d->current_key, msg->origin.index, f->last_tag, INTENT_DELIVER, 0,
	             d->current_expect);
	return f->intent_tag;
}

void dedup_end(struct dedup *d, bool delivered)
{
	if (d->current && delivered) {
		record(d, &d->current_key, d->current_index, ENTRY_DELIVERED);
		total_to(&d->file->delivered, d->current_expect);
		sync_totals(d);
	}
	__atomic_store_n(&d->file->intent_valid, 0, __ATOMIC_RELEASE);
	d->current = false;
}

/* A delivery the previous run was in the middle of: did it happen? */
static void settle_intent(struct dedup *d, uint64_t fabric_tag, int tag_err)
{
	struct dedup_file *f = d->file;

	if (!f->intent_valid)
		return;
	if (f->intent_kind == INTENT_UNDELIVERABLE) {
		/* Settled undeliverable, maybe not written down in full:
		 * nothing was sent, so finishing it is all there is to do. */
		record(d, &f->intent_key, f->intent_index,
		       ENTRY_UNDELIVERABLE | (f->intent_error << ENTRY_ERROR_SHIFT));
		if (f->journal_next == 0 ||
		    memcmp(&f->journal[(f->journal_next - 1) % DEDUP_JOURNAL].key, &f->intent_key,
		           sizeof(f->intent_key)) ||
		    f->journal[(f->journal_next - 1) % DEDUP_JOURNAL].index != f->intent_index)
			journal(d, &f->intent_key, f->intent_index, f->intent_error);
		total_to(&f->undeliverable, f->intent_expect);
	} else if (tag_err < 0) {
		relay_log(0,
		          "state: cannot ask the fabric whether the last delivery happened "
		          "(%s): it may be delivered twice",
		          argo_strerror(tag_err));
	} else if (fabric_tag == f->intent_tag) {
		record(d, &f->intent_key, f->intent_index, ENTRY_DELIVERED);
		total_to(&f->delivered, f->intent_expect);
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
		 * failure here would leave a short file to fault on). A
		 * version 2 file grows by its totals (zeros: counted from
		 * now on), the rest kept. */
		if ((size_t)st.st_size == DEDUP_V2_SIZE &&
		    ftruncate(fd, sizeof(struct dedup_file)) < 0) {
			int err = errno;

			relay_log(0, "state: cannot grow %s: %s", path, strerror(err));
			close(fd);
			return -err;
		}
		if ((size_t)st.st_size != sizeof(struct dedup_file) &&
		    (size_t)st.st_size != DEDUP_V2_SIZE) {
			/* Said: what it held is forgotten (a copy of a message
			 * delivered before may be delivered again). */
			if (st.st_size)
				relay_log(0,
				          "state: %s is %lld bytes, not a table of this version "
				          "(%zu): started afresh",
				          path, (long long)st.st_size, sizeof(struct dedup_file));
			if (ftruncate(fd, 0) < 0 || ftruncate(fd, sizeof(struct dedup_file)) < 0) {
				int err = errno;

				relay_log(0, "state: cannot size %s: %s", path, strerror(err));
				close(fd);
				return -err;
			}
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
	if (d->file->magic == DEDUP_MAGIC && d->file->version == 2 &&
	    d->file->nentries == DEDUP_ENTRIES) {
		relay_log(1, "state: %s/delivered grows to version %u (totals from now on)", dir,
		          DEDUP_VERSION);
		d->file->version = DEDUP_VERSION;
	}
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

void dedup_set_sync(struct dedup *d, enum state_sync sync)
{
	/* What a batch left dirty goes before the policy changes. */
	if (d->sync == STATE_SYNC_BATCH && d->on_disk)
		dedup_flush(d);
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
	if (d->file && d->on_disk)
		dedup_flush(d);
	if (d->file)
		munmap(d->file, sizeof(struct dedup_file));
	free(d);
}

void dedup_dump(const struct dedup *d, struct strbuf *out, bool json)
{
	uint32_t i, streams = 0;

	for (i = 0; d && i < DEDUP_ENTRIES; i++)
		streams += d->file->entries[i].state != ENTRY_FREE;
	if (json)
		strbuf_add(out,
		           "\"delivered_streams\":%u,\"send_tags\":%s,\"state_syncs\":%llu,"
		           "\"settled_delivered\":%llu,\"settled_undeliverable\":%llu",
		           streams, d && d->tags ? "true" : "false",
		           (unsigned long long)(d ? d->syncs : 0),
		           (unsigned long long)(d ? d->file->delivered : 0),
		           (unsigned long long)(d ? d->file->undeliverable : 0));
	else
		strbuf_add(out,
		           "  delivered streams %u (of %u), send tags %s, writes to disk %llu\n"
		           "  settled in the fabric since the state began (every run): delivered "
		           "%llu, undeliverable %llu\n",
		           streams, DEDUP_ENTRIES, d && d->tags ? "yes" : "no",
		           (unsigned long long)(d ? d->syncs : 0),
		           (unsigned long long)(d ? d->file->delivered : 0),
		           (unsigned long long)(d ? d->file->undeliverable : 0));
}

void dedup_layout(struct dedup_layout *out)
{
	*out = (struct dedup_layout){
	    .size = sizeof(struct dedup_file),
	    .v2_size = DEDUP_V2_SIZE,
	    .totals = offsetof(struct dedup_file, delivered),
	    .intent_valid = offsetof(struct dedup_file, intent_valid),
	};
}
