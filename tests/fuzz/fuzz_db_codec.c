/* libFuzzer target: the journal's row decoder (what it reads back from SQLite), for the
 * class the first byte picks; a decoded record re-encodes and decodes to an equal one. */
#include <stdint.h>
#include <stdlib.h>

#include "xapid/db_codec.h"
#include "xapid/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int ready;
        if (!ready) {
                model_init();
                ready = 1;
        }
        if (size < 1)
                return 0;
        const struct mclass *c = api_classes[data[0] % (unsigned)api_n_classes];
        void *rec = NULL;
        if (db_codec_decode(c, data + 1, size - 1, &rec) != 0)
                return 0;
        uint8_t *blob = NULL;
        size_t len = 0;
        if (db_codec_encode(c, rec, &blob, &len) == 0) {
                void *again = NULL;
                if (db_codec_decode(c, blob, len, &again) != 0)
                        abort();
                for (int f = 0; f < c->n_fields; f++) {
                        const struct mfield *fd = &c->fields[f];
                        if (!fd->is_derived &&
                            !model_slot_equal(fd->type, model_slot(rec, fd), model_slot(again, fd)))
                                abort();
                }
                model_record_free(c, again);
                free(blob);
        }
        model_record_free(c, rec);
        return 0;
}
