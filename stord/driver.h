/* SR drivers of stord: one ops table per SR type ("file", "ext", "iso", "lvm", "nfs").
 *
 * stord opens an SR with sd_sr_open() (no side effects: validates the device_config and works
 * out where the SR lives), then calls the sd_* wrappers below, which dispatch to the driver and
 * turn a missing operation into SR_OPERATION_NOT_SUPPORTED.  The wrappers hold the SR's lock
 * (srlock.h) around the driver call, so they may be called from several threads; the
 * file-based drivers also take an flock on the SR so two processes cannot interleave.  Every
 * function returns 0 or a negative errno and, on failure, fills the struct sd_error it is given
 * (when not NULL).
 *
 * Ownership: every string inside sd_vdi, sd_attach, sd_map, sd_probe is owned by the struct
 * and freed by its *_clear/_free function; inputs are borrowed for the duration of the call. */
#ifndef TS_STORD_DRIVER_H
#define TS_STORD_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/uuid.h"

/* ---- errors ---------------------------------------------------------------------------- */

/* SM backend error numbers (xapi-project/sm drivers/XE_SR_ERRORCODES.xml); XAPI reports them
 * as SR_BACKEND_FAILURE_<n>. */
enum sd_sm_code {
        SM_INVALID_ARG = 1,
        SM_SR_IN_USE = 16,
        SM_INVALID_DEV = 19,
        SM_VDI_IN_USE = 24,
        SM_UNIMPLEMENTED = 38,
        SM_SR_NOT_EMPTY = 39,
        SM_SR_SCAN = 40,
        SM_SR_EXISTS = 42,
        SM_VDI_EXISTS = 43,
        SM_SR_NO_SPACE = 44,
        SM_VDI_UNAVAILABLE = 46,
        SM_SR_UNAVAILABLE = 47,
        SM_SR_UNKNOWN_TYPE = 48,
        SM_LVM_CREATE = 50,
        SM_LVM_DELETE = 51,
        SM_LVM_MOUNT = 52,
        SM_LVM_RESIZE = 59,
        SM_LVM_SIZE = 60,
        SM_FILE_SR_CREATE = 61,
        SM_FILE_SR_RMDIR = 62,
        SM_FILE_SR_DELETE = 63,
        SM_VDI_REMOVE = 64,
        SM_VDI_LOAD = 65,
        SM_VDI_TYPE = 66,
        SM_NFS_VERSION = 72,
        SM_NFS_MOUNT = 73,
        SM_NFS_UNMOUNT = 74,
        SM_NFS_CREATE = 88,
        SM_LVM_GROUP_CREATE = 77,
        SM_VDI_CREATE = 78,
        SM_VDI_SIZE = 79,
        SM_VDI_CLONE = 81,
        SM_VDI_SNAPSHOT = 82,
        SM_CONFIG_DEVICE_MISSING = 90,
        SM_CONFIG_DEVICE_INVALID = 91,
        SM_PVS_FAILED = 93,
        SM_CONFIG_LOCATION_MISSING = 94,
        SM_CONFIG_SERVER_PATH_MISSING = 101,
        SM_CONFIG_SERVER_MISSING = 102,
        SM_CONFIG_SERVER_PATH_BAD = 103,
        SM_VDI_RESIZE = 110,
        SM_VDI_MISSING = 144,
        SM_ISO_LOCATION_MISSING = 220,
        SM_ISO_LOCAL_PATH = 226,
        SM_EIO = 200,
        SM_GENERAL = 202,
};

struct sd_error {
        int err;            /* the negative errno also returned */
        int sm_code;        /* SR_BACKEND_FAILURE_<sm_code>; 0 when api_code says it all */
        char api_code[48];  /* a XenAPI error (SR_FULL, VDI_TOO_SMALL, ...) or "" */
        char params[2][64]; /* its parameters, when it has any */
        char reason[512];   /* readable: what failed and why (tool stderr included) */
};

/* Fills E (if not NULL) and returns ERR (a negative errno). */
int sd_fail(struct sd_error *e, int err, int sm_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Same with a XenAPI error code and up to two parameters (NULL for none). */
int sd_fail_api(struct sd_error *e, int err, const char *code, const char *p1, const char *p2,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Converts E into what travels to a XenAPI client: the api_code with its parameters, or
 * SR_BACKEND_FAILURE_<n> with ["", reason, ""] as XAPI does, or SR_BACKEND_FAILURE with
 * [errno name, "", reason] when there is no SM number.  Returns -EINVAL (api_error_set's). */
int sd_error_to_api(const struct sd_error *e, struct api_error *out);

/* ---- string maps (device_config, sm_config) --------------------------------------------- */

struct sd_kv {
        char *key, *value;
};
struct sd_map {
        struct sd_kv *v;
        size_t n;
};
/* Borrowed pointer to KEY's value, or NULL (M may be NULL). */
const char *sd_map_get(const struct sd_map *m, const char *key);
/* Sets KEY (copying both strings). Returns 0 or -ENOMEM. */
int sd_map_set(struct sd_map *m, const char *key, const char *value);
int sd_map_copy(struct sd_map *dst, const struct sd_map *src);
void sd_map_clear(struct sd_map *m);

/* ---- VDIs -------------------------------------------------------------------------------- */

enum sd_format { SD_FMT_RAW, SD_FMT_QCOW2 };
const char *sd_format_name(enum sd_format f);
/* Returns 0 and sets *F, or -EINVAL for an unknown name. */
int sd_format_parse(const char *name, enum sd_format *f);

/* What a driver knows about one VDI. */
struct sd_vdi {
        char *location;        /* the VDI's name inside the SR (file SR: its uuid) */
        char *uuid;            /* the VDI uuid the SR records, or NULL if unknown (ISO, foreign) */
        char *type;            /* XenAPI vdi_type: "user", "system", "suspend", ... */
        enum sd_format format; /* how a backend reads it */
        uint64_t virtual_size;
        uint64_t physical_utilisation; /* bytes really allocated (st_blocks * 512, LV size) */
        char *parent;        /* location of the hidden base it is an overlay of, or NULL */
        char *snapshot_of;   /* location of the VDI this is a snapshot of, or NULL */
        char *snapshot_time; /* ISO 8601 UTC "YYYYMMDDTHH:MM:SSZ", or NULL */
        bool is_a_snapshot;
        bool read_only;
};
void sd_vdi_clear(struct sd_vdi *v);

struct sd_vdi_list {
        struct sd_vdi *v;
        size_t n;
};
void sd_vdi_list_clear(struct sd_vdi_list *l);
/* Appends a copy of *V's pointers (ownership moves into the list; *V is zeroed).  0/-ENOMEM. */
int sd_vdi_list_take(struct sd_vdi_list *l, struct sd_vdi *v);
/* Borrowed pointer to the VDI with LOCATION, or NULL. */
const struct sd_vdi *sd_vdi_list_find(const struct sd_vdi_list *l, const char *location);
/* Number of VDIs of L that are snapshots of LOCATION (the XenAPI `snapshots` field is the
 * inverse of `snapshot_of`); fills up to MAX borrowed locations into OUT if not NULL. */
size_t sd_vdi_list_snapshots(const struct sd_vdi_list *l, const char *location, const char **out,
                             size_t max);

struct sd_vdi_create_args {
        uint64_t virtual_size;
        enum sd_format format;
        const char *type; /* vdi_type; NULL means "user" */
        const char *uuid; /* wanted VDI uuid, or NULL for a fresh one */
};

/* What a block backend needs to open an attached VDI. */
struct sd_attach {
        char *path; /* file or block device */
        enum sd_format format;
        bool is_block_device;
        bool read_only;
};
void sd_attach_clear(struct sd_attach *a);

/* ---- SR ------------------------------------------------------------------------------------ */

struct sd_sr_stat {
        uint64_t physical_size;        /* bytes the SR can hold */
        uint64_t physical_utilisation; /* bytes in use */
        uint64_t virtual_allocation;   /* sum of the VDIs' virtual sizes */
};

/* One SR that a probe found. */
struct sd_probe_sr {
        char uuid[UUID_STR_LEN];
        uint64_t size, free_space;
        char *aux; /* driver-specific detail (device, VG name, export path); owned */
};
struct sd_probe {
        struct sd_probe_sr *srs;
        size_t n;
};
void sd_probe_clear(struct sd_probe *p);
/* XAPI's probe answer: <SRlist><SR><UUID>…</UUID><Size>…</Size>…</SR></SRlist>.  Caller frees. */
char *sd_probe_to_xml(const struct sd_probe *p);

struct sd_driver;

/* An SR as a driver sees it.  Created by sd_sr_open, freed by sd_sr_close. */
struct sd_sr {
        const struct sd_driver *drv;
        char uuid[UUID_STR_LEN];
        struct sd_map dconf;    /* owned copy of the device_config */
        char *path;             /* directory holding the SR's files (file, ext, iso, nfs) */
        char *vg;               /* lvm: the volume group name */
        void *priv;             /* driver state, freed by drv->close */
        struct sd_srlock *lock; /* srlock.h: held around every driver call */
};

struct sd_config_key {
        const char *key;
        const char *description;
};

struct sd_driver {
        const char *name; /* SR type */
        const char *description;
        const char *const *capabilities;    /* NULL-terminated XAPI SM capability strings */
        const struct sd_config_key *config; /* terminated by a {NULL, NULL} entry */
        /* Validates dconf and fills sr->path / sr->vg; no side effects. */
        int (*open)(struct sd_sr *sr, struct sd_error *e);
        void (*close)(struct sd_sr *sr);
        int (*sr_create)(struct sd_sr *sr, uint64_t size, struct sd_error *e);
        int (*sr_delete)(struct sd_sr *sr, struct sd_error *e);
        int (*sr_attach)(struct sd_sr *sr, struct sd_error *e);
        int (*sr_detach)(struct sd_sr *sr, struct sd_error *e);
        int (*sr_scan)(struct sd_sr *sr, struct sd_vdi_list *out, struct sd_error *e);
        int (*sr_probe)(const struct sd_map *dconf, struct sd_probe *out, struct sd_error *e);
        int (*sr_stat)(struct sd_sr *sr, struct sd_sr_stat *out, struct sd_error *e);
        int (*vdi_create)(struct sd_sr *sr, const struct sd_vdi_create_args *a, struct sd_vdi *out,
                          struct sd_error *e);
        int (*vdi_delete)(struct sd_sr *sr, const char *location, struct sd_error *e);
        int (*vdi_clone)(struct sd_sr *sr, const char *location, struct sd_vdi *out,
                         struct sd_error *e);
        int (*vdi_snapshot)(struct sd_sr *sr, const char *location, struct sd_vdi *out,
                            struct sd_error *e);
        int (*vdi_resize)(struct sd_sr *sr, const char *location, uint64_t new_size,
                          struct sd_error *e);
        int (*vdi_attach)(struct sd_sr *sr, const char *location, bool read_only,
                          struct sd_attach *out, struct sd_error *e);
        int (*vdi_detach)(struct sd_sr *sr, const char *location, struct sd_error *e);
        /* Facts about one VDI (VDI_INTRODUCE, VDI_UPDATE); -ENOENT / VDIMissing if absent. */
        int (*vdi_introduce)(struct sd_sr *sr, const char *location, struct sd_vdi *out,
                             struct sd_error *e);
};

extern const struct sd_driver sd_driver_file, sd_driver_ext, sd_driver_iso, sd_driver_lvm,
    sd_driver_nfs;

/* The driver for SR type NAME, or NULL. */
const struct sd_driver *sd_driver_find(const char *name);
/* NULL-terminated list of every driver. */
const struct sd_driver *const *sd_drivers(void);
bool sd_driver_has_capability(const struct sd_driver *d, const char *cap);

/* Opens the SR SR_UUID of TYPE described by DCONF.  *OUT is owned by the caller. */
int sd_sr_open(const char *type, const char *sr_uuid, const struct sd_map *dconf,
               struct sd_sr **out, struct sd_error *e);
void sd_sr_close(struct sd_sr *sr);

/* Dispatchers: SR_OPERATION_NOT_SUPPORTED (SM 38) when the driver lacks the operation. */
int sd_sr_create(struct sd_sr *sr, uint64_t size, struct sd_error *e);
int sd_sr_delete(struct sd_sr *sr, struct sd_error *e);
int sd_sr_attach(struct sd_sr *sr, struct sd_error *e);
int sd_sr_detach(struct sd_sr *sr, struct sd_error *e);
int sd_sr_scan(struct sd_sr *sr, struct sd_vdi_list *out, struct sd_error *e);
int sd_sr_probe(const char *type, const struct sd_map *dconf, struct sd_probe *out,
                struct sd_error *e);
int sd_sr_stat(struct sd_sr *sr, struct sd_sr_stat *out, struct sd_error *e);
int sd_vdi_create(struct sd_sr *sr, const struct sd_vdi_create_args *a, struct sd_vdi *out,
                  struct sd_error *e);
int sd_vdi_delete(struct sd_sr *sr, const char *location, struct sd_error *e);
int sd_vdi_clone(struct sd_sr *sr, const char *location, struct sd_vdi *out, struct sd_error *e);
int sd_vdi_snapshot(struct sd_sr *sr, const char *location, struct sd_vdi *out, struct sd_error *e);
int sd_vdi_resize(struct sd_sr *sr, const char *location, uint64_t new_size, struct sd_error *e);
int sd_vdi_attach(struct sd_sr *sr, const char *location, bool read_only, struct sd_attach *out,
                  struct sd_error *e);
int sd_vdi_detach(struct sd_sr *sr, const char *location, struct sd_error *e);
int sd_vdi_introduce(struct sd_sr *sr, const char *location, struct sd_vdi *out,
                     struct sd_error *e);
/* Full copy of SRC's VDI LOCATION into a new VDI of DST (same virtual size, DST's default
 * format FMT) through qemu-img convert: both are attached, then the data streams across.
 * On failure the half-made destination VDI is deleted. */
int sd_vdi_copy(struct sd_sr *src, const char *location, struct sd_sr *dst, enum sd_format fmt,
                struct sd_vdi *out, struct sd_error *e);

/* Fault injection for crash-safety tests (like SM's FIST points): when the environment
 * variable STORD_CRASHPOINT equals NAME, the process stops itself with SIGSTOP so a test can
 * SIGKILL it exactly there.  Costs one getenv when unset. */
void sd_crashpoint(const char *name);

#endif
