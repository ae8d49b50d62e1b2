/* Output as XAPI's xe prints it (cli_printer.ml): one "name ( RW): value" line per field,
 * the first name padded on the right and the others on the left to the widest name plus
 * four, a blank line after each record; --minimal prints the first value of each record,
 * comma separated, with commas and backslashes escaped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/xe.h"

void xe_rec_add(struct xe_rec *r, char *name, char *value)
{
        char **n = realloc(r->names, (r->n + 1) * sizeof *n);
        char **v = n ? realloc(r->values, (r->n + 1) * sizeof *v) : NULL;
        if (!n || !v) {
                fputs("xe: out of memory\n", stderr);
                exit(1);
        }
        r->names = n;
        r->values = v;
        n[r->n] = name;
        v[r->n] = value;
        r->n++;
}

void xe_rec_free(struct xe_rec *r)
{
        for (size_t i = 0; i < r->n; i++) {
                free(r->names[i]);
                free(r->values[i]);
        }
        free(r->names);
        free(r->values);
        memset(r, 0, sizeof *r);
}

static void print_escaped(const char *s)
{
        for (; *s; s++) {
                if (*s == ',' || *s == '\\')
                        putchar('\\');
                putchar(*s);
        }
}

void xe_print_list(char *const *items, size_t n, bool minimal)
{
        if (!minimal) {
                for (size_t i = 0; i < n; i++)
                        puts(items[i]);
                return;
        }
        for (size_t i = 0; i < n; i++) {
                if (i)
                        putchar(',');
                print_escaped(items[i]);
        }
        putchar('\n');
}

void xe_print_records(const struct xe_rec *recs, size_t n, bool minimal)
{
        if (minimal) {
                bool first = true;
                for (size_t i = 0; i < n; i++) {
                        if (!recs[i].n)
                                continue;
                        if (!first)
                                putchar(',');
                        print_escaped(recs[i].values[0]);
                        first = false;
                }
                putchar('\n');
                return;
        }
        for (size_t i = 0; i < n; i++) {
                const struct xe_rec *r = &recs[i];
                int width = 0;
                for (size_t f = 0; f < r->n; f++)
                        if ((int)strlen(r->names[f]) > width)
                                width = (int)strlen(r->names[f]);
                width += 4;
                for (size_t f = 0; f < r->n; f++) {
                        if (f == 0)
                                printf("%-*s: %s\n", width, r->names[f], r->values[f]);
                        else
                                printf("%*s: %s\n", width, r->names[f], r->values[f]);
                }
                fputs("\n\n", stdout);
        }
}
