/*
 * tests/fuzz/fuzz_feed_json.c: JSON feed bodies into fs_feed_peek_source and fs_feed_decode
 * (snapshot and delta). The properties are in feed_common.h; a valid document is re-encoded as
 * msgpack (msgpack-c's packer) for the round trip.
 */
#include "tests/fuzz/feed_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_feed_one(data, size, FS_FEED_JSON, FS_FEED_MSGPACK);
}
