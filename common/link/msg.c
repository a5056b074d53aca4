/* SPDX-License-Identifier: MIT */
/* Messages, their custody and their memory account: see msg.h. */
#include "msg.h"

#include <stdlib.h>
#include <string.h>

#include "debug.h"

#ifdef ARGO_DEBUG
#define SET_CUSTODY(msg, state) ((msg)->custody = (state))
#else
#define SET_CUSTODY(msg, state) ((void)0)
#endif

struct msg *msg_new(struct msg_account *account, uint32_t len)
{
	struct msg *msg = malloc(sizeof(*msg) + len);

	if (!msg)
		return NULL;
	memset(msg, 0, sizeof(*msg));
	msg->len = len;
	msg->account = account;
	SET_CUSTODY(msg, MSG_NEW);
	account->held_bytes += WIRE_DATA_COST(len);
	account->messages++;
	if (WIRE_DATA_COST(len) > account->largest)
		account->largest = WIRE_DATA_COST(len);
	if (account->held_bytes > account->held_peak)
		account->held_peak = account->held_bytes;
	return msg;
}

void msg_hold(struct msg *msg, const struct msg_source_ops *ops, void *source, uint64_t seq)
{
	DEBUG_ASSERT(msg->custody == MSG_NEW && ops && ops->done && ops->release);
	msg->source_ops = ops;
	msg->source = source;
	msg->source_seq = seq;
	SET_CUSTODY(msg, MSG_HELD);
}

void msg_trim_front(struct msg *msg, uint32_t n)
{
	DEBUG_ASSERT(n <= msg->len && msg->account->held_bytes >= n);
	msg->len -= n;
	msg->account->held_bytes -= n;
	memmove(msg->data, msg->data + n, msg->len);
}

static void msg_free(struct msg *msg)
{
	struct msg_account *account = msg->account;
	bool was_full = account->held_bytes >= account->limit;

	DEBUG_ASSERT(!msg->queued);
	DEBUG_ASSERT(account->held_bytes >= msg_cost(msg) && account->messages > 0);
	account->held_bytes -= msg_cost(msg);
	account->messages--;
	SET_CUSTODY(msg, MSG_GONE);
	free(msg);
	/* Below the bound again: every link may grant credit again, and its
	 * peer may be waiting for exactly that. */
	if (was_full && account->held_bytes < account->limit)
		account->room_again = true;
}

void msg_done(struct msg *msg)
{
	const struct msg_source_ops *ops = msg->source_ops;
	void *source = msg->source;
	uint64_t seq = msg->source_seq;
	uint32_t len = msg->len;

	DEBUG_ASSERT(msg->custody == MSG_HELD);
	/* Freed first: the grant the source may send counts the room. */
	msg_free(msg);
	ops->done(source, seq, len);
}

void msg_release(struct msg *msg)
{
	const struct msg_source_ops *ops = msg->source_ops;
	void *source = msg->source;
	uint64_t seq = msg->source_seq;
	uint32_t len = msg->len;

	DEBUG_ASSERT(msg->custody == MSG_HELD);
	msg->account->released++;
	msg_free(msg);
	ops->release(source, seq, len);
}

void msg_discard(struct msg *msg)
{
	DEBUG_ASSERT(msg->custody == MSG_NEW);
	msg_free(msg);
}

void msg_queue_push(struct msg_queue *q, struct msg *msg)
{
	DEBUG_ASSERT(!msg->queued);
#ifdef ARGO_DEBUG
	msg->queued = true;
#endif
	msg->next = NULL;
	if (q->tail)
		q->tail->next = msg;
	else
		q->head = msg;
	q->tail = msg;
	q->bytes += msg->len;
	q->count++;
}

struct msg *msg_queue_pop(struct msg_queue *q)
{
	struct msg *msg = q->head;

	if (!msg)
		return NULL;
	DEBUG_ASSERT(msg->queued && q->count > 0 && q->bytes >= msg->len);
	q->head = msg->next;
	if (!q->head)
		q->tail = NULL;
	q->bytes -= msg->len;
	q->count--;
	msg->next = NULL;
#ifdef ARGO_DEBUG
	msg->queued = false;
#endif
	return msg;
}
