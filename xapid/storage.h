/* xapid's storage client: SRs and VDIs through stord (proto/storage.proto).
 *
 * The API handlers (VDI.create/destroy/clone/snapshot, SR.scan) send one request to stord
 * and defer their answer; the datamodel changes only after stord succeeded.  When stord
 * announces itself, storage_peer_up() attaches the SRs with a PBD on this host and, on the
 * first start, creates the local file SR "Local storage" in the directory stord announces
 * ("local_sr_dir" in its Hello state) and makes it the pool's default SR. */
#ifndef TS_XAPID_STORAGE_H
#define TS_XAPID_STORAGE_H

struct xapi;
struct msg_peer_info;

/* Allocates x->storage.  Returns 0 or -ENOMEM. */
int storage_init(struct xapi *x);
void storage_free(struct xapi *x);

/* stord (re)announced itself (PEER is its listing). */
void storage_peer_up(struct xapi *x, const struct msg_peer_info *peer);

#endif
