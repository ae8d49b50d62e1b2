/* SM records from stord's driver announcements (see sm.h). */
#include "xapid/sm.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "version.h"
#include "api/model_gen.h"
#include "common/log.h"
#include "common/msg.h"
#include "xapid/db.h"
#include "xapid/xapi.h"

LOG_MODULE(sm)

#define SM_PREFIX "sm/"

static void set_str(char **slot, const char *v)
{
        char *d = strdup(v != NULL ? v : "");
        if (d == NULL)
                abort();
        free(*slot);
        *slot = d;
}

static const struct mtype *field_type(const char *name)
{
        return mclass_SM.fields[model_field_index(&mclass_SM, name)].type;
}

static struct db_row *find_sm(struct db *db, const char *type)
{
        for (size_t i = 0; i < db_count(db, &mclass_SM); i++) {
                struct db_row *row = db_row_at(db, &mclass_SM, i);
                if (strcmp(((struct api_SM *)row->rec)->type, type) == 0)
                        return row;
        }
        return NULL;
}

static int sync_one(struct xapi *x, const char *type, const char *json_text)
{
        json_error_t jerr;
        json_t *o = json_loads(json_text, 0, &jerr);
        if (!json_is_object(o)) {
                log_warnx("stord announced driver %s with unreadable JSON: %s", type, jerr.text);
                json_decref(o);
                return -EBADMSG;
        }
        struct api_SM *sm = model_record_new(&mclass_SM);
        set_str(&sm->type, type);
        set_str(&sm->name_label, type);
        set_str(&sm->name_description, json_string_value(json_object_get(o, "description")));
        set_str(&sm->vendor, "toolstack");
        set_str(&sm->copyright, "");
        set_str(&sm->version, TS_VERSION);
        set_str(&sm->required_api_version, "1.0");
        set_str(&sm->driver_filename, "stord");
        size_t i;
        json_t *v;
        json_array_foreach(json_object_get(o, "capabilities"), i, v)
        {
                const char *cap = json_string_value(v);
                if (cap == NULL)
                        continue;
                mset_add(field_type("capabilities")->elem, &sm->capabilities, &cap);
                int64_t version = 1;
                mmap_put(field_type("features"), &sm->features, &cap, &version);
        }
        const char *key;
        json_object_foreach(json_object_get(o, "configuration"), key, v)
        {
                const char *desc = json_string_value(v);
                if (desc != NULL)
                        mmap_put(field_type("configuration"), &sm->configuration, &key, &desc);
        }
        json_decref(o);

        struct db_row *row = find_sm(x->db, type);
        if (row == NULL)
                return db_insert(x->db, &mclass_SM, NULL, sm, NULL);
        /* Keep the record's identity and other_config; refresh what the driver says. */
        static const char *const refreshed[] = {"name_description", "version", "configuration",
                                                "capabilities", "features"};
        for (size_t k = 0; k < sizeof(refreshed) / sizeof(refreshed[0]); k++) {
                int f = model_field_index(&mclass_SM, refreshed[k]);
                const void *slot = model_slot(sm, &mclass_SM.fields[f]);
                if (!model_slot_equal(mclass_SM.fields[f].type,
                                      model_slot(row->rec, &mclass_SM.fields[f]), slot))
                        db_set(x->db, row, f, slot);
        }
        model_record_free(&mclass_SM, sm);
        return 0;
}

int sm_sync_from_peer(struct xapi *x, const struct msg_peer_info *peer)
{
        int n = 0;
        for (size_t i = 0; i < peer->n_state; i++) {
                const char *k = peer->state[i]->key;
                if (strncmp(k, SM_PREFIX, strlen(SM_PREFIX)) != 0 || k[strlen(SM_PREFIX)] == '\0')
                        continue;
                if (sync_one(x, k + strlen(SM_PREFIX), peer->state[i]->value) == 0)
                        n++;
        }
        return n;
}
