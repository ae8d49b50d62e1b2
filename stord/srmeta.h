/* The metadata sidecar of a directory SR (<sr>/.stord-sr.json): the facts the image files do
 * not tell.  Owned by the file driver; read and written under the SR lock.
 *
 *   {"version": 1, "sr_uuid": "...",
 *    "vdis": {"<location>": {"type": "user", "hidden": false, "is_a_snapshot": true,
 *                            "snapshot_of": "<location>", "snapshot_time": "...",
 *                            "read_only": false}, ...},
 *    "pending": {...}}      an operation in progress (see drv_file.c), absent when idle
 *
 * Saved atomically: written to a temporary file, fsync'ed, renamed over the old one, and the
 * directory fsync'ed, so a crash leaves the old or the new content. */
#ifndef TS_STORD_SRMETA_H
#define TS_STORD_SRMETA_H

#include <jansson.h>

#define SRMETA_FILE ".stord-sr.json"

struct srmeta {
        json_t *root; /* owned */
        char *dir;    /* owned */
};

/* Loads DIR's sidecar.  -ENOENT when there is none, -EBADMSG when it is not ours. */
int srmeta_load(const char *dir, struct srmeta *m);
/* A fresh sidecar for SR_UUID in DIR (not saved). */
int srmeta_new(const char *dir, const char *sr_uuid, struct srmeta *m);
int srmeta_save(struct srmeta *m);
void srmeta_clear(struct srmeta *m);

const char *srmeta_sr_uuid(const struct srmeta *m);
/* The object of LOCATION (borrowed), created empty when CREATE; NULL if absent. */
json_t *srmeta_vdi(struct srmeta *m, const char *location, int create);
void srmeta_vdi_remove(struct srmeta *m, const char *location);
/* Borrowed "vdis" object, for iteration. */
json_t *srmeta_vdis(struct srmeta *m);
/* Borrowed string / boolean field of LOCATION's entry (NULL / 0 when absent). */
const char *srmeta_vdi_str(struct srmeta *m, const char *location, const char *key);
int srmeta_vdi_bool(struct srmeta *m, const char *location, const char *key);

#endif
