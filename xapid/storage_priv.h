/* What storage.c shares with the other storage API files (storage_sr.c): describing an SR to
 * stord, turning stord's failures into XenAPI errors, reconciling an SR's VDIs. */
#ifndef TS_XAPID_STORAGE_PRIV_H
#define TS_XAPID_STORAGE_PRIV_H

#include "api/model_gen.h"
#include "proto/storage.pb-c.h"

struct xapi;
struct api_error;
struct db_row;

#define STORAGE_STORD   "stord"
#define STORAGE_TIMEOUT 120000

/* What stord needs to know of an SR: built from the SR and its PBD, borrowed by a request. */
struct srdesc {
        Ts__Sto__Sr sr;
        Ts__Peer__KeyValue *kv;
        Ts__Peer__KeyValue **kvp;
};
int storage_srdesc_init(struct srdesc *d, const char *type, const char *uuid,
                        const struct mmap *dconf);
void storage_srdesc_clear(struct srdesc *d);
/* The description for an operation on an attached SR from this host, or an API error. */
int storage_srdesc_for(struct xapi *x, const char *sr_ref, struct srdesc *d, struct api_error *err);
/* The PBD of SR on this host, or NULL. */
struct db_row *storage_local_pbd(struct xapi *x, const struct api_SR *sr);
/* A failed exchange with stord (STATUS < 0) as XAPI's error. */
void storage_link_error(int status, const char *text, struct api_error *err);
/* stord's Failure as the XenAPI error; returns the negative errno. */
int storage_failure_to_api(const Ts__Sto__Failure *f, struct api_error *err);
/* Brings SR's VDIs in line with what stord found. */
void storage_reconcile(struct xapi *x, struct db_row *sr, const Ts__Sto__SrState *st);

#endif
