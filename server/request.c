/*
 * request.c — framing: complete requests out of a connection's input bytes.
 *
 * c->rbuf[roff, rlen) holds what the client sent that is not answered yet:
 * the current request (its head, then its body) and maybe pipelined ones
 * after it.  req_process() answers every complete request there, in order:
 *
 *   head incomplete ──▶ wait (the tick enforces --request-timeout-ms)
 *   head bad        ──▶ 400/431/501/505, close
 *   head complete   ──▶ Content-Length > --max-body: 413 at once, close
 *                       body incomplete: "100 Continue" if asked, wait
 *                       body complete:   route_request(), next request
 *
 * The head is parsed again from the buffer each time more bytes arrive
 * (cheap: a head is small), so nothing points into rbuf between calls and
 * rbuf may be moved or grown.  A chunked body is decoded in place as it
 * arrives (http_chunked_decode); the framing bytes it skips are squeezed
 * out at once, so a chunked body needs no more room than its payload.
 *
 * Processing stops while more than OUT_PAUSE reply bytes wait to be sent:
 * a client that pipelines without reading gets no more work done for it
 * (c->paused; conn.c resumes once the output is out).
 */
#include <string.h>

#include "srv_impl.h"

#define OUT_PAUSE (256u << 10)
#define NHDRS	  (sizeof(((struct worker *)0)->hdrs) / sizeof(struct http_header))

/* Sends "100 Continue" once for the current request when it asked. */
static void continue_if_asked(struct worker *w, struct conn *c, const struct http_request *rq)
{
	if (rq->expect_continue && rq->minor >= 1 && !c->continue_sent) {
		route_continue(w, c);
		c->continue_sent = 1;
	}
}

/*
 * Decodes more of the chunked body at b[0, len) (b is just past the head).
 * Returns 1 when complete, 0 when more is needed, or minus a status.
 */
static int decode_chunked(struct worker *w, struct conn *c, char *b, size_t len)
{
	int rc = http_chunked_decode(&c->ch, b, len, w->srv->cfg.max_body);

	if (rc == 0 && c->ch.in > c->ch.out) {
		/* b[out, in) is spent framing: move the undecoded rest down */
		memmove(b + c->ch.out, b + c->ch.in, len - c->ch.in);
		c->rlen -= c->ch.in - c->ch.out;
		c->ch.in = c->ch.out;
	}
	return rc;
}

/*
 * The current request has a Content-Length body of cl bytes that has not all
 * arrived: make room for it now (one allocation instead of doublings).
 * Returns 0, or -1 after answering 503 when the buffer budget is spent.
 */
static int room_for_body(struct worker *w, struct conn *c, size_t cl)
{
	if (c->roff > 0) {
		memmove(c->rbuf, c->rbuf + c->roff, c->rlen - c->roff);
		c->rlen -= c->roff;
		c->roff = 0;
	}
	if (conn_rbuf_reserve(w, c, c->head_len + cl) < 0) {
		route_error(w, c, NULL, 503, "server input buffers are full", "Retry-After: 1\r\n");
		return -1;
	}
	return 0;
}

void req_process(struct worker *w, struct conn *c)
{
	const struct srv_config *cfg = &w->srv->cfg;

	while (c->state == C_OPEN && !c->close_after && c->rlen > c->roff) {
		struct http_request rq;
		char *p = c->rbuf + c->roff, *body;
		size_t avail = c->rlen - c->roff, consumed, blen;
		int n;

		if (c->wlen - c->wsent > OUT_PAUSE) {
			c->paused = 1;
			break;
		}
		n = http_parse_request(p, avail, SRV_MAX_HEAD, &rq, w->hdrs, NHDRS);
		if (n == HTTP_INCOMPLETE)
			break;
		if (n < 0) {
			route_error(w, c, NULL, -n, NULL, NULL);
			break;
		}
		if (!c->head_len) {
			c->head_len = (size_t)n;
			if (rq.content_length > (int64_t)cfg->max_body) {
				route_error(w, c, &rq, 413, "request body larger than --max-body",
					    NULL);
				break;
			}
			if (rq.chunked)
				http_chunked_init(&c->ch);
		}
		if (rq.chunked) {
			int rc = decode_chunked(w, c, p + n, avail - (size_t)n);
			if (rc < 0) {
				route_error(w, c, &rq, -rc,
					    rc == -413 ? "request body larger than --max-body"
						       : "bad chunked encoding",
					    NULL);
				break;
			}
			if (rc == 0) {
				continue_if_asked(w, c, &rq);
				break;
			}
			body = p + n;
			blen = c->ch.out;
			consumed = (size_t)n + c->ch.in;
		} else {
			size_t cl = rq.content_length > 0 ? (size_t)rq.content_length : 0;
			if (avail - (size_t)n < cl) {
				continue_if_asked(w, c, &rq);
				room_for_body(w, c, cl);
				break;
			}
			body = p + n;
			blen = cl;
			consumed = (size_t)n + cl;
		}
		route_request(w, c, &rq, w->hdrs, body, blen);
		c->roff += consumed;
		c->head_len = 0;
		c->continue_sent = 0;
		c->req_start_ms = c->roff < c->rlen ? w->now_ms : 0;
		if (w->stopping)
			c->close_after = 1;
	}
	if (c->roff == c->rlen)
		c->roff = c->rlen = 0;
	if (c->peer_eof && !c->paused)
		c->close_after = 1;
}
