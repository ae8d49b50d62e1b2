/* Row serialization for the journal: a compact, self-describing binary encoding of a
 * record's stored fields, walked through the generated field descriptors.
 *
 * Blob = version byte (1), then for every stored field (derived sets are rebuilt on load,
 * never stored): varint name length, name, tagged value.  Tags: 's' string/ref (varint
 * length + bytes), 'i' int and 't' datetime (zigzag varint), 'f' float (8 bytes LE), 'b'
 * bool (1 byte), 'e' enum (by name, so reordering values is harmless), 'S' set (varint
 * count + tagged elements), 'M' map (varint count + tagged key, tagged value).
 *
 * Decoding starts from the class defaults, so a field the blob lacks (the IDL grew) keeps
 * its default; a field the class lacks (the IDL shrank), a value whose tag no longer fits
 * the field's type, or an enum value no longer known is skipped (the default stays).
 * Pure functions: safe on any thread; nothing is shared. */
#ifndef TS_XAPID_DB_CODEC_H
#define TS_XAPID_DB_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "xapid/model.h"

#define DB_CODEC_VERSION 1

/* Encodes REC of class C into *OUT (malloc'ed, caller frees), *LEN bytes.  Returns 0 or
 * -ENOMEM. */
int db_codec_encode(const struct mclass *c, const void *rec, uint8_t **out, size_t *len);

/* Decodes BLOB into a fresh record of class C (*OUT, caller frees with
 * model_record_free).  Returns 0, or -EBADMSG when the blob is malformed (truncated,
 * unknown tag or version), -ENOMEM. */
int db_codec_decode(const struct mclass *c, const uint8_t *blob, size_t len, void **out);

#endif
