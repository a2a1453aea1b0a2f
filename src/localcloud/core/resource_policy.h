// Resource-based policies (an S3 bucket policy, an SQS queue's Policy attribute): the
// structural checks AWS applies when a policy is set, and the evaluation AWS applies when an
// AWS service (events.amazonaws.com, s3.amazonaws.com) acts on the resource.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
// Pure functions; thread-safe.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/status.h"

namespace localcloud {

// Which service's rules a policy is checked against.
struct PolicyTarget {
  std::string action_prefix;  // "s3", "sqs": actions must be "*" or "<prefix>:<Name>"
  // Every Resource must be this ARN or under it ("<arn>/..."); "" = not checked.
  std::string resource_prefix;
};

// OK when `policy` is a policy document AWS accepts for the target: a JSON object whose
// Version (if present) is "2012-10-17" or "2008-10-17", whose Statement is an object or a
// non-empty array of objects, each with Effect Allow|Deny, Principal (or NotPrincipal),
// Action (or NotAction) and Resource (or NotResource), actions of the target's service,
// resources under its prefix, and a Condition (if any) that maps operators to objects.
// InvalidArgument otherwise, with the reason S3 gives ("Statement is empty!", "Missing
// required field Principal", "Policy has invalid action", ...).
common::Status ValidateResourcePolicy(std::string_view policy, const PolicyTarget& target);

// What an AWS service principal asks to do.
struct ServiceRequest {
  std::string service;   // "events.amazonaws.com"
  std::string action;    // "sqs:SendMessage"
  std::string resource;  // the resource ARN
  // Condition keys of the request ("aws:SourceArn", "aws:SourceAccount"); names compare
  // case-insensitively, as IAM's do.
  std::map<std::string, std::string> context;
};

// True when `policy` allows the request: some Allow statement matches (principal, action,
// resource and every condition) and no Deny statement does. An empty or unparsable policy
// allows nothing. Condition operators understood: String{Equals,NotEquals,Like,NotLike,
// EqualsIgnoreCase}, Arn{Equals,NotEquals,Like,NotLike}, each also with IfExists; a statement
// with any other operator never matches (an Allow is then not granted, a Deny not applied).
bool ResourcePolicyAllows(std::string_view policy, const ServiceRequest& request);

}  // namespace localcloud
