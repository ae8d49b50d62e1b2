#include "stord/srmeta.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

LOG_MODULE(srmeta)

static char *path_of(const char *dir, const char *name)
{
        char *p = NULL;
        if (asprintf(&p, "%s/%s", dir, name) < 0)
                return NULL;
        return p;
}

int srmeta_load(const char *dir, struct srmeta *m)
{
        memset(m, 0, sizeof *m);
        char *p = path_of(dir, SRMETA_FILE);
        if (p == NULL)
                return -ENOMEM;
        json_error_t jerr;
        m->root = json_load_file(p, 0, &jerr);
        int rc = 0;
        if (m->root == NULL) {
                rc = access(p, F_OK) == 0 ? -EBADMSG : -ENOENT;
                if (rc == -EBADMSG)
                        log_warnx("%s: %s (line %d)", p, jerr.text, jerr.line);
        } else if (!json_is_object(m->root) ||
                   !json_is_string(json_object_get(m->root, "sr_uuid"))) {
                rc = -EBADMSG;
        }
        free(p);
        if (rc == 0 && !json_is_object(json_object_get(m->root, "vdis")))
                json_object_set_new(m->root, "vdis", json_object());
        if (rc == 0 && (m->dir = strdup(dir)) == NULL)
                rc = -ENOMEM;
        if (rc < 0)
                srmeta_clear(m);
        return rc;
}

int srmeta_new(const char *dir, const char *sr_uuid, struct srmeta *m)
{
        memset(m, 0, sizeof *m);
        m->root = json_pack("{s:i, s:s, s:{}}", "version", 1, "sr_uuid", sr_uuid, "vdis");
        m->dir = strdup(dir);
        if (m->root == NULL || m->dir == NULL) {
                srmeta_clear(m);
                return -ENOMEM;
        }
        return 0;
}

int srmeta_save(struct srmeta *m)
{
        char *tmp = path_of(m->dir, ".tmp-" SRMETA_FILE);
        char *dst = path_of(m->dir, SRMETA_FILE);
        char *text = json_dumps(m->root, JSON_INDENT(1) | JSON_SORT_KEYS);
        int rc = 0, fd = -1;
        if (tmp == NULL || dst == NULL || text == NULL) {
                rc = -ENOMEM;
                goto out;
        }
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
                rc = -errno;
                goto out;
        }
        size_t len = strlen(text);
        if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
                rc = errno ? -errno : -EIO;
                goto out;
        }
        close(fd);
        fd = -1;
        if (rename(tmp, dst) < 0) {
                rc = -errno;
                goto out;
        }
        int dfd = open(m->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
                fsync(dfd);
                close(dfd);
        }
out:
        if (fd >= 0) {
                close(fd);
                unlink(tmp);
        }
        if (rc < 0)
                log_warnx("saving %s: %s", dst ? dst : SRMETA_FILE, strerror(-rc));
        free(text);
        free(tmp);
        free(dst);
        return rc;
}

void srmeta_clear(struct srmeta *m)
{
        if (m == NULL)
                return;
        json_decref(m->root);
        free(m->dir);
        m->root = NULL;
        m->dir = NULL;
}

const char *srmeta_sr_uuid(const struct srmeta *m)
{
        return json_string_value(json_object_get(m->root, "sr_uuid"));
}

json_t *srmeta_vdis(struct srmeta *m)
{
        return json_object_get(m->root, "vdis");
}

json_t *srmeta_vdi(struct srmeta *m, const char *location, int create)
{
        json_t *vdis = srmeta_vdis(m);
        json_t *v = json_object_get(vdis, location);
        if (v == NULL && create) {
                v = json_object();
                if (v == NULL || json_object_set_new(vdis, location, v) < 0)
                        return NULL;
        }
        return v;
}

void srmeta_vdi_remove(struct srmeta *m, const char *location)
{
        json_object_del(srmeta_vdis(m), location);
}

const char *srmeta_vdi_str(struct srmeta *m, const char *location, const char *key)
{
        return json_string_value(json_object_get(srmeta_vdi(m, location, 0), key));
}

int srmeta_vdi_bool(struct srmeta *m, const char *location, const char *key)
{
        return json_is_true(json_object_get(srmeta_vdi(m, location, 0), key));
}
