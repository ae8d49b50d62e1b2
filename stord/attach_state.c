/* The attachments' state file (see attach_state.h), JSON through jansson:
 * [{"sr": uuid, "location": loc, "holder": vbd-uuid, "read_only": false}, ...] */
#include "stord/attach_state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int att_list_add(struct att_list *l, const char *sr, const char *location, const char *holder,
                 bool read_only, bool pending)
{
        struct att_entry *v = realloc(l->v, (l->n + 1) * sizeof(*v));
        if (v == NULL)
                return -ENOMEM;
        l->v = v;
        struct att_entry *e = &l->v[l->n];
        e->sr_uuid = strdup(sr);
        e->location = strdup(location);
        e->holder = strdup(holder);
        e->read_only = read_only;
        e->pending = pending;
        if (e->sr_uuid == NULL || e->location == NULL || e->holder == NULL) {
                free(e->sr_uuid);
                free(e->location);
                free(e->holder);
                return -ENOMEM;
        }
        return (int)l->n++;
}

static void entry_clear(struct att_entry *e)
{
        free(e->sr_uuid);
        free(e->location);
        free(e->holder);
}

void att_list_remove(struct att_list *l, size_t i)
{
        entry_clear(&l->v[i]);
        l->v[i] = l->v[--l->n];
}

void att_list_clear(struct att_list *l)
{
        for (size_t i = 0; i < l->n; i++)
                entry_clear(&l->v[i]);
        free(l->v);
        l->v = NULL;
        l->n = 0;
}

int att_list_save(const struct att_list *l, const char *path)
{
        json_t *a = json_array();
        for (size_t i = 0; a != NULL && i < l->n; i++) {
                const struct att_entry *e = &l->v[i];
                if (e->pending)
                        continue;
                json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "sr", e->sr_uuid, "location",
                                      e->location, "holder", e->holder, "read_only", e->read_only);
                if (o == NULL || json_array_append_new(a, o) < 0) {
                        json_decref(a);
                        return -ENOMEM;
                }
        }
        char *text = a != NULL ? json_dumps(a, JSON_COMPACT) : NULL;
        json_decref(a);
        if (text == NULL)
                return -ENOMEM;
        char tmp[4096];
        int r = 0;
        if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
                free(text);
                return -ENAMETOOLONG;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
                r = -errno;
        } else {
                size_t len = strlen(text), off = 0;
                while (off < len && r == 0) {
                        ssize_t n = write(fd, text + off, len - off);
                        if (n < 0 && errno != EINTR)
                                r = -errno;
                        else if (n > 0)
                                off += (size_t)n;
                }
                if (close(fd) < 0 && r == 0)
                        r = -errno;
                if (r == 0 && rename(tmp, path) < 0)
                        r = -errno;
                if (r < 0)
                        unlink(tmp);
        }
        free(text);
        return r;
}

int att_list_load(struct att_list *l, const char *path)
{
        json_error_t jerr;
        json_t *a = json_load_file(path, 0, &jerr);
        if (a == NULL)
                return access(path, F_OK) < 0 && errno == ENOENT ? 0 : -EBADMSG;
        int r = json_is_array(a) ? 0 : -EBADMSG;
        size_t i;
        json_t *o;
        json_array_foreach(a, i, o)
        {
                const char *sr, *loc, *holder;
                int ro = 0;
                if (r < 0)
                        break;
                if (json_unpack(o, "{s:s, s:s, s:s, s?b}", "sr", &sr, "location", &loc, "holder",
                                &holder, "read_only", &ro) < 0)
                        r = -EBADMSG;
                else if (att_list_add(l, sr, loc, holder, ro != 0, false) < 0)
                        r = -ENOMEM;
        }
        json_decref(a);
        if (r < 0)
                att_list_clear(l);
        return r;
}
