/* Lookups in the generated class table. */
#include <string.h>

#include "cli/xe_schema.h"

const struct xe_class *xe_class_by_xe(const char *xe_name)
{
        for (size_t i = 0; i < xe_n_classes; i++)
                if (strcmp(xe_classes[i].xe, xe_name) == 0)
                        return &xe_classes[i];
        return NULL;
}

const struct xe_class *xe_class_by_wire(const char *wire)
{
        for (size_t i = 0; i < xe_n_classes; i++)
                if (strcmp(xe_classes[i].wire, wire) == 0)
                        return &xe_classes[i];
        return NULL;
}

const struct xe_field *xe_field_by_xe(const struct xe_class *c, const char *xe_name)
{
        for (size_t i = 0; i < c->n_fields; i++)
                if (strcmp(c->fields[i].xe, xe_name) == 0)
                        return &c->fields[i];
        return NULL;
}

const struct xe_field *xe_field_by_wire(const struct xe_class *c, const char *wire)
{
        for (size_t i = 0; i < c->n_fields; i++)
                if (strcmp(c->fields[i].wire, wire) == 0)
                        return &c->fields[i];
        return NULL;
}
