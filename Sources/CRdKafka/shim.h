#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/* rd_kafka_producev is variadic (its arguments are macros), which Swift cannot call: one message, its key, value,
   partition (RD_KAFKA_PARTITION_UA: the partitioner's choice) and timestamp (ms), copied by librdkafka. */
static inline rd_kafka_resp_err_t replay_kafka_produce(rd_kafka_t *rk, const char *topic, int32_t partition,
                                                       const void *key, size_t key_len, const void *value,
                                                       size_t value_len, int64_t timestamp_ms) {
    return rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                             RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, value_len),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(timestamp_ms),
                             RD_KAFKA_V_END);
}
