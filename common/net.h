/*
 * net.h — small socket helpers shared by the ingest server and the query API.
 */
#ifndef SPOOR_NET_H
#define SPOOR_NET_H

/* The local port socket `fd` is bound to (IPv4 or IPv6), or -errno. */
int net_bound_port(int fd);

#endif
