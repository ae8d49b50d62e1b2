/* RFC 4122 uuids in their 36-character text form. */
#ifndef TS_COMMON_UUID_H
#define TS_COMMON_UUID_H

#include <stdbool.h>

#define UUID_STR_LEN 37 /* 36 characters and the NUL */

/* Writes a fresh random (version 4) uuid into OUT. */
void uuid_generate_str(char out[UUID_STR_LEN]);
/* True when S is exactly a uuid in 8-4-4-4-12 hexadecimal form (either case). */
bool uuid_is_valid(const char *s);

#endif
