#include "common/uuid.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

void uuid_generate_str(char out[UUID_STR_LEN])
{
        unsigned char b[16];
        size_t got = 0;
        while (got < sizeof b) {
                ssize_t r = getrandom(b + got, sizeof b - got, 0);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        abort(); /* no entropy source at all: nothing sane to fall back to */
                }
                got += (size_t)r;
        }
        b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
        b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
        snprintf(out, UUID_STR_LEN,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                 b[15]);
}

bool uuid_is_valid(const char *s)
{
        if (s == NULL || strlen(s) != 36)
                return false;
        for (int i = 0; i < 36; i++) {
                char c = s[i];
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (c != '-')
                                return false;
                } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                             (c >= 'A' && c <= 'F'))) {
                        return false;
                }
        }
        return true;
}
