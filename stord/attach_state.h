/* The attachments of VDIs to running VMs, kept across a restart (or SIGKILL) of stord in
 * RUN_DIR/stord-attachments.json: a run-directory file, like domd's domain state, because
 * attachments die with the host but must outlive stord.  Written whole to a temporary file
 * and renamed over the old one, so a crash leaves either the old or the new list. */
#ifndef TS_STORD_ATTACH_STATE_H
#define TS_STORD_ATTACH_STATE_H

#include <stdbool.h>
#include <stddef.h>

struct att_entry {
        char *sr_uuid, *location, *holder; /* holder: the VBD's uuid */
        bool read_only;
        bool pending; /* the driver's attach is under way: not saved yet */
};

struct att_list {
        struct att_entry *v;
        size_t n;
};

/* Appends an entry (strings copied).  Returns its index or -ENOMEM. */
int att_list_add(struct att_list *l, const char *sr, const char *location, const char *holder,
                 bool read_only, bool pending);
void att_list_remove(struct att_list *l, size_t i); /* the last entry moves into slot I */
void att_list_clear(struct att_list *l);

/* Saves the entries that are not pending to PATH.  Returns 0 or -errno. */
int att_list_save(const struct att_list *l, const char *path);
/* Loads PATH into an empty L.  A missing file is an empty list (0); -EBADMSG if unreadable. */
int att_list_load(struct att_list *l, const char *path);

#endif
