#include "stord/sm_describe.h"

#include <jansson.h>

#include "stord/driver.h"

char *sd_driver_describe_json(const struct sd_driver *d)
{
        json_t *caps = json_array(), *conf = json_object();
        for (const char *const *c = d->capabilities; c != NULL && *c != NULL; c++)
                json_array_append_new(caps, json_string(*c));
        for (const struct sd_config_key *k = d->config; k != NULL && k->key != NULL; k++)
                json_object_set_new(conf, k->key,
                                    json_string(k->description ? k->description : ""));
        json_t *o =
            json_pack("{s:s, s:o, s:o}", "description", d->description ? d->description : "",
                      "capabilities", caps, "configuration", conf);
        char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        return text;
}
