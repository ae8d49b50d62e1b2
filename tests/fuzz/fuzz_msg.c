/* libFuzzer target: the internal message envelope decoder and its validation, then the
 * body of whatever decoded as each known peer message. */
#include <stdint.h>
#include <stdlib.h>

#include "common/msg_codec.h"
#include "proto/peer.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct msg_counters c = {0};
        Ts__Envelope *env = NULL;
        if (msg_decode(data, size, &env, &c) != 0)
                return 0;
        (void)msg_check_fresh(env, 1, 2, 1, &c);
        static const ProtobufCMessageDescriptor *const descs[] = {
            &ts__peer__hello__descriptor, &ts__peer__status_reply__descriptor,
            &ts__peer__error__descriptor, &ts__peer__pong__descriptor};
        for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++) {
                ProtobufCMessage *body = NULL;
                if (msg_body_unpack(env, descs[i], &body) == 0 && body != NULL)
                        protobuf_c_message_free_unpacked(body, NULL);
        }
        msg_envelope_free(env);
        return 0;
}
