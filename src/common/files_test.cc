#include "common/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>

namespace common {
namespace {

class FilesTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "files_test.XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST_F(FilesTest, WritesAtomicallyWithModeAndReadsBack) {
  std::string path = dir_ + "/token";
  ASSERT_TRUE(WriteFile(path, "first\n", 0600).ok());
  ASSERT_TRUE(WriteFile(path, "second\n", 0640).ok());
  EXPECT_EQ(*ReadFile(path), "second\n");
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_EQ(FileSize(path), 7);

  auto missing = ReadFile(dir_ + "/absent");
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find(dir_ + "/absent"), std::string::npos);
  EXPECT_EQ(FileSize(dir_ + "/absent"), 0);
  EXPECT_FALSE(WriteFile(dir_ + "/no/such/dir/file", "x").ok());
}

TEST_F(FilesTest, TailStartsAtALineAndReadFromStopsAtTheEnd) {
  std::string path = dir_ + "/log";
  ASSERT_TRUE(WriteFile(path, "line one\nline two\nline three\n").ok());
  EXPECT_EQ(TailFile(path, 15), "line three\n");  // "two\nline three\n" cut to a line start
  EXPECT_EQ(TailFile(path, 1000), "line one\nline two\nline three\n");
  EXPECT_EQ(TailFile(dir_ + "/absent", 10), "");
  EXPECT_EQ(ReadFileFrom(path, 9, 4), "line");
  EXPECT_EQ(ReadFileFrom(path, 25, 100), "ree\n");
  EXPECT_EQ(ReadFileFrom(dir_ + "/absent", 0, 10), "");
}

}  // namespace
}  // namespace common
