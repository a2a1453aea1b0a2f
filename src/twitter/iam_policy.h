// The least-privilege IAM policy of the twitter function: what it reads and writes in S3.
#pragma once

#include <string>

#include "twitter/twitter_function.h"

namespace twitter {

// The policy document (JSON, indented) for the function watching `bucket` with `options`:
// s3:GetObject on the watched prefix (options.folder; the whole bucket when empty),
// s3:GetObject and s3:PutObject on the posted-record prefix and, when set, on the write-back
// prefix. Nothing else: the function lists nothing and deletes nothing. Pure.
std::string FunctionIamPolicy(const Options& options, const std::string& bucket);

}  // namespace twitter
