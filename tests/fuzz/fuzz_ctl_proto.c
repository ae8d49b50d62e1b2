/* libFuzzer target: the control-socket wire format (request line split and re-joined,
 * reply header). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/ctl_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *line = malloc(size + 1);
        if (line == NULL)
                return 0;
        memcpy(line, data, size);
        line[size] = '\0';
        int status;
        size_t length;
        (void)ctl_parse_header(line, &status, &length);
        char *argv[64];
        int argc = ctl_split(line, argv, 64);
        if (argc > 0) {
                /* what was split joins back to a line that splits the same way */
                char *joined = ctl_join(argc, (const char *const *)argv);
                if (joined != NULL) {
                        char *again[64];
                        int n = ctl_split(joined, again, 64);
                        if (n != argc)
                                abort();
                        for (int i = 0; i < n; i++)
                                if (strcmp(again[i], argv[i]) != 0)
                                        abort();
                        free(joined);
                }
        }
        free(line);
        return 0;
}
