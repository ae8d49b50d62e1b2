/* libFuzzer target: the configuration-file parser with a schema of every value type. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct cfg_key schema[] = {
    {"name", CFG_STRING, "x", 0, 0, "a string"},
    {"count", CFG_INT, "1", -5, 1000, "an int"},
    {"flag", CFG_BOOL, "no", 0, 0, "a bool"},
    {"s.size", CFG_SIZE, "1K", 0, 0, "a size"},
    {"s.wait", CFG_DURATION, "1s", 0, 3600000, "a duration"},
    {NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text = malloc(size + 1);
        if (text == NULL)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        struct cfg *cfg = cfg_new(schema);
        if (cfg != NULL) {
                cfg_load_string(cfg, "fuzz", text);
                cfg_set_override(cfg, text);
                for (size_t i = 0; i < cfg_error_count(cfg); i++)
                        (void)strlen(cfg_error(cfg, i));
                (void)cfg_get_str(cfg, "name");
                (void)cfg_get_int(cfg, "count");
                (void)cfg_get_size(cfg, "s.size");
                (void)cfg_get_duration_ms(cfg, "s.wait");
                cfg_free(cfg);
        }
        free(text);
        return 0;
}
