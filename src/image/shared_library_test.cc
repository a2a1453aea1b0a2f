// SharedLibrary (shared_library.h): what a missing library or function reports.
#include "image/shared_library.h"

#include <gtest/gtest.h>

#include <cstring>

namespace image::internal {
namespace {

TEST(SharedLibrary, AMissingLibraryNamesItselfAndItsPackage) {
  auto library = SharedLibrary::Open("libdat-absent.so.7", "libdat-absent7");
  ASSERT_FALSE(library.ok());
  EXPECT_EQ(library.status().code(), common::Code::kInternal);
  const std::string message = library.status().message();
  EXPECT_NE(message.find("libdat-absent.so.7 cannot be loaded"), std::string::npos) << message;
  EXPECT_NE(message.find("install the package libdat-absent7"), std::string::npos) << message;
  EXPECT_NE(message.find("No such file"), std::string::npos) << message;  // dlerror's reason
}

TEST(SharedLibrary, BindsTypedFunctionsAndNamesAMissingOne) {
  auto library = SharedLibrary::Open("libc.so.6", "libc6");
  ASSERT_TRUE(library.ok()) << library.status().ToString();
  decltype(&std::strlen) length = nullptr;
  ASSERT_TRUE(library->Bind("strlen", &length).ok());
  EXPECT_EQ(length("four"), 4u);

  decltype(&std::strlen) absent = nullptr;
  common::Status status = library->Bind("dat_no_such_function", &absent);
  EXPECT_EQ(status.code(), common::Code::kInternal);
  EXPECT_NE(status.message().find("libc.so.6 lacks dat_no_such_function"), std::string::npos)
      << status.message();
  EXPECT_NE(status.message().find("libc6"), std::string::npos) << status.message();
  EXPECT_EQ(absent, nullptr);
}

}  // namespace
}  // namespace image::internal
