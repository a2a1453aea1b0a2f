// SQS specifics of the wire protocols: the message-attribute digest clients verify.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "localcloud/core/queue_delivery.h"

namespace localcloud::sqs {

inline constexpr std::string_view kQueryNamespace = "http://queue.amazonaws.com/doc/2012-11-05/";

// MD5 (hex) of message attributes as SQS computes MD5OfMessageAttributes: attributes sorted
// by name, each as length-prefixed name, data type, a transport byte (1 string/number,
// 2 binary) and length-prefixed value. "" for no attributes.
std::string Md5OfMessageAttributes(const std::map<std::string, MessageAttributeValue>& attrs);

}  // namespace localcloud::sqs
