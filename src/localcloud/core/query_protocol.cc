#include "localcloud/core/query_protocol.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "common/json_fields.h"
#include "common/strings.h"
#include "http/message.h"
#include "localcloud/core/xml_writer.h"

namespace localcloud {
namespace {

using nlohmann::json;

bool IsIndex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Members of an object keyed by "1", "2", … in numeric order.
std::vector<const json*> Indexed(const json& object) {
  std::vector<std::pair<long, const json*>> items;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (IsIndex(it.key())) items.emplace_back(std::strtol(it.key().c_str(), nullptr, 10), &*it);
  }
  std::sort(items.begin(), items.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<const json*> out;
  for (auto& [_, v] : items) out.push_back(v);
  return out;
}

// Rewrites the nested tree of dotted names into the JSON protocol's shapes.
json Normalize(const json& tree) {
  json out = json::object();
  for (auto it = tree.begin(); it != tree.end(); ++it) {
    const std::string& key = it.key();
    const json& value = it.value();
    if (!value.is_object()) {
      out[key] = value;
      continue;
    }
    if (key == "Attribute" || key == "Tag") {
      json map = json::object();
      for (const json* item : Indexed(value)) {
        std::string name = common::JsonString(*item, key == "Tag" ? "Key" : "Name");
        map[name] = common::JsonString(*item, "Value");
      }
      out[key == "Tag" ? "Tags" : "Attributes"] = std::move(map);
    } else if (key == "MessageAttribute" || key == "MessageSystemAttribute") {
      json map = json::object();
      for (const json* item : Indexed(value)) {
        map[common::JsonString(*item, "Name")] =
            item->contains("Value") ? (*item)["Value"] : json::object();
      }
      out[key + "s"] = std::move(map);
    } else if (key == "AttributeName" || key == "MessageAttributeName" ||
               key == "MessageSystemAttributeName" || key == "TagKey") {
      json list = json::array();
      for (const json* item : Indexed(value)) list.push_back(*item);
      out[key + "s"] = std::move(list);
    } else if (common::EndsWith(key, "RequestEntry")) {
      json list = json::array();
      for (const json* item : Indexed(value)) list.push_back(Normalize(*item));
      out["Entries"] = std::move(list);
    } else {
      out[key] = Normalize(value);
    }
  }
  return out;
}

void RenderValue(XmlWriter& w, std::string_view name, const json& value, std::string_view action);

void RenderObjectFields(XmlWriter& w, const json& object, std::string_view action) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    RenderValue(w, it.key(), it.value(), action);
  }
}

std::string Scalar(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  return v.dump();
}

void RenderValue(XmlWriter& w, std::string_view name, const json& value, std::string_view action) {
  if (value.is_null()) return;
  if (name == "Attributes" && value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      w.Open("Attribute").Element("Name", it.key()).Element("Value", Scalar(it.value())).Close();
    }
  } else if (name == "Tags" && value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      w.Open("Tag").Element("Key", it.key()).Element("Value", Scalar(it.value())).Close();
    }
  } else if (name == "MessageAttributes" && value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      w.Open("MessageAttribute").Element("Name", it.key()).Open("Value");
      RenderObjectFields(w, it.value(), action);
      w.Close().Close();
    }
  } else if (value.is_array()) {
    std::string item;
    if (name == "Messages")
      item = "Message";
    else if (name == "QueueUrls" || name == "queueUrls")
      item = "QueueUrl";
    else if (name == "Failed")
      item = "BatchResultErrorEntry";
    else if (name == "Successful")
      item = std::string(action) + "ResultEntry";
    else
      item = std::string(name);
    for (const json& element : value) {
      if (element.is_object()) {
        w.Open(item);
        RenderObjectFields(w, element, action);
        w.Close();
      } else {
        w.Element(item, Scalar(element));
      }
    }
  } else if (value.is_object()) {
    w.Open(name);
    RenderObjectFields(w, value, action);
    w.Close();
  } else {
    w.Element(name, Scalar(value));
  }
}

}  // namespace

json QueryParamsToJson(const std::map<std::string, std::string>& params) {
  json tree = json::object();
  for (const auto& [name, value] : params) {
    std::vector<std::string> parts = common::Split(name, '.');
    json* node = &tree;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      json& child = (*node)[parts[i]];
      if (!child.is_object()) child = json::object();
      node = &child;
    }
    (*node)[parts.back()] = value;
  }
  return Normalize(tree);
}

std::string RenderQueryResponse(std::string_view action, const json& result,
                                std::string_view request_id, std::string_view xmlns) {
  XmlWriter w;
  w.Open(std::string(action) + "Response", xmlns);
  // Always present: SDKs look for the result wrapper even when it is empty.
  {
    w.Open(std::string(action) + "Result");
    RenderObjectFields(w, result, action);
    w.Close();
  }
  w.Open("ResponseMetadata").Element("RequestId", request_id).Close();
  return w.Finish();
}

namespace {

http::Response RenderQueryError(const QueryProtocolOptions& options, aws::AwsError error,
                                const std::string& request_id) {
  error.request_id = request_id;
  if (options.query_error_code) error.code = options.query_error_code(error.code);
  return aws::ToQueryXmlResponse(error);
}

http::Response RenderQuerySuccess(const QueryProtocolOptions& options, std::string_view action,
                                  const json& result, const std::string& request_id) {
  http::Response r = http::Response::Text(
      200, RenderQueryResponse(action, result, request_id, options.xmlns), "text/xml");
  r.headers.Set("x-amzn-RequestId", request_id);
  return r;
}

}  // namespace

QueryProtocol::QueryProtocol(QueryProtocolOptions options) {
  if (!options.unknown_operation) {
    options.unknown_operation = [service = options.service](std::string_view action) {
      return ServiceError(service, "InvalidAction",
                          "The action " + std::string(action) + " is not valid for this endpoint.");
    };
  }
  options_ = std::make_shared<const QueryProtocolOptions>(std::move(options));
}

std::map<std::string, std::string> QueryProtocol::Parameters(const http::Request& request) {
  std::map<std::string, std::string> params;
  for (auto& [k, v] : http::ParseQuery(request.query())) params[k] = v;
  if (common::StartsWith(common::ToLower(request.headers.GetOr("content-type", "")),
                         "application/x-www-form-urlencoded")) {
    for (auto& [k, v] : http::ParseQuery(request.body, /*plus_as_space=*/true)) params[k] = v;
  }
  return params;
}

void QueryProtocol::Serve(const OperationTable& operations, Call call,
                          http::Respond respond) const {
  std::map<std::string, std::string> params = Parameters(call.request);
  std::string action = params["Action"];
  Reply reply = [options = options_, action, request_id = call.request_id,
                 respond = std::move(respond)](OperationResult outcome) {
    respond(outcome.ok() ? RenderQuerySuccess(*options, action, *outcome, request_id)
                         : RenderQueryError(*options, outcome.error(), request_id));
  };
  operations.Run(action, QueryParamsToJson(params), call, std::move(reply),
                 options_->unknown_operation);
}

http::Response QueryProtocol::RenderError(const Call& call, aws::AwsError error) const {
  if (error.service.empty()) error.service = options_->service;
  return RenderQueryError(*options_, std::move(error), call.request_id);
}

}  // namespace localcloud
