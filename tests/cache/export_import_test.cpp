#include <gtest/gtest.h>

#include <fstream>

#include "shapejit/error.hpp"
#include "store_test_util.hpp"

using namespace shapejit::cache;
using namespace shapejit::cache::testing;
namespace fs = std::filesystem;

TEST(KernelStoreExport, RoundTripCarriesKernelsTuningRecordsAndProfiles) {
  const auto dir = fresh_dir("export");
  KernelStore src(dir / "src.db", quiet());
  for (int i = 0; i < 5; ++i) src.put(record("e" + std::to_string(i), 800 + i));
  src.put_tuning(tuning_row("", "gemm", "{\"m\":128}", "{\"block_n\":128}", 41.5, 0, "h100"));
  src.put_profile("ep32", "{\"experts\":256}");
  EXPECT_EQ(src.export_to(dir / "artifact.db"), 5);
  EXPECT_FALSE(fs::exists(dir / "artifact.db-wal"));
  EXPECT_FALSE(fs::exists(dir / "artifact.db-journal"));
  for (const auto& e : fs::directory_iterator(dir))
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path();

  KernelStore dst(dir / "dst.db", quiet());
  dst.put(record("e0", 800));
  const std::string artifact_before = file_bytes(dir / "artifact.db");
  const ImportResult r = dst.import_from(dir / "artifact.db");
  EXPECT_EQ(r.imported, 4);
  EXPECT_EQ(r.skipped_existing, 1);
  EXPECT_EQ(r.corrupt, 0);
  EXPECT_EQ(r.tuning_records, 1);
  EXPECT_EQ(r.profiles, 1);
  for (int i = 0; i < 5; ++i) {
    const auto got = dst.get("e" + std::to_string(i));
    ASSERT_TRUE(got) << i;
    EXPECT_EQ(got->cubin, record("e" + std::to_string(i), 800 + i).cubin);
  }
  ASSERT_EQ(dst.tuning_records("gemm").size(), 1u);
  EXPECT_DOUBLE_EQ(dst.tuning_records("gemm").front().time_us, 41.5);
  EXPECT_EQ(dst.profile("ep32"), "{\"experts\":256}");
  EXPECT_EQ(file_bytes(dir / "artifact.db"), artifact_before) << "import never writes to the artifact";
  // Importing again adds nothing.
  const ImportResult again = dst.import_from(dir / "artifact.db");
  EXPECT_EQ(again.imported, 0);
  EXPECT_EQ(again.skipped_existing, 5);
}

TEST(KernelStoreExport, CorruptEntriesInAnArtifactAreSkippedAndCounted) {
  const auto dir = fresh_dir("export-corrupt");
  KernelStore src(dir / "src.db", quiet());
  for (int i = 0; i < 5; ++i) src.put(record("e" + std::to_string(i)));
  ASSERT_EQ(src.export_to(dir / "artifact.db"), 5);
  {
    RawDb raw(dir / "artifact.db");
    ASSERT_EQ(raw.exec("UPDATE kernels SET cubin = zeroblob(1000) WHERE key = 'e2'"), SQLITE_OK);
    ASSERT_EQ(raw.exec("UPDATE kernels SET lowered_name = '_Z5wrongv' WHERE key = 'e4'"), SQLITE_OK);
  }
  const std::string artifact_before = file_bytes(dir / "artifact.db");
  int reports = 0;
  StoreOptions o = quiet();
  o.on_corrupt = [&](const std::string&) { ++reports; };
  KernelStore fresh(dir / "fresh.db", o);
  const ImportResult r = fresh.import_from(dir / "artifact.db");
  EXPECT_EQ(r.imported, 3);
  EXPECT_EQ(r.corrupt, 2);
  EXPECT_EQ(reports, 2);
  EXPECT_FALSE(fresh.get("e2"));
  EXPECT_FALSE(fresh.get("e4"));
  EXPECT_TRUE(fresh.get("e3"));
  EXPECT_EQ(file_bytes(dir / "artifact.db"), artifact_before);
}

TEST(KernelStoreExport, DamagedOrForeignArtifactIsRefusedAndTheStoreUnchanged) {
  const auto dir = fresh_dir("export-damaged");
  KernelStore src(dir / "src.db", quiet());
  for (int i = 0; i < 3; ++i) src.put(record("e" + std::to_string(i)));
  ASSERT_EQ(src.export_to(dir / "artifact.db"), 3);
  {
    std::fstream f(dir / "artifact.db", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f << "this is no longer a SQLite header";
  }
  KernelStore dst(dir / "dst.db", quiet());
  dst.put(record("mine"));
  EXPECT_THROW(dst.import_from(dir / "artifact.db"), shapejit::Error);
  EXPECT_THROW(dst.import_from(dir / "no-such-file.db"), shapejit::Error);
  {
    RawDb other(dir / "other.db");
    other.exec("CREATE TABLE kernels (x)");
  }
  try {
    dst.import_from(dir / "other.db");
    ADD_FAILURE() << "a foreign database was imported";
  } catch (const shapejit::Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a shapejit cache export"), std::string::npos) << e.what();
  }
  EXPECT_EQ(dst.stats().entries, 1);
  EXPECT_TRUE(dst.writable());
}

TEST(KernelStoreExport, ExportSkipsCorruptEntriesAndNeverOverwritesItsOwnDatabase) {
  const auto dir = fresh_dir("export-self");
  KernelStore src(dir / "src.db", quiet());
  for (int i = 0; i < 4; ++i) src.put(record("e" + std::to_string(i)));
  {
    RawDb raw(dir / "src.db");
    ASSERT_EQ(raw.exec("UPDATE kernels SET checksum = 'ffffffffffffffffffffffffffffffff' WHERE key = 'e1'"), SQLITE_OK);
  }
  EXPECT_THROW(src.export_to(dir / "src.db"), shapejit::Error);
  EXPECT_EQ(src.stats().entries, 4);
  EXPECT_EQ(src.export_to(dir / "out.db"), 3);
  // Exporting again replaces the previous artifact.
  EXPECT_EQ(src.export_to(dir / "out.db"), 3);
  KernelStore check(dir / "check.db", quiet());
  EXPECT_EQ(check.import_from(dir / "out.db").imported, 3);
  EXPECT_FALSE(check.get("e1"));
}

TEST(KernelStoreExport, ARowGivenAnotherKernelsCubinIsRejectedAndCounted) {
  // The attack of issue 16: B's cubin, lowered name and checksum copied into A's row.
  const auto dir = fresh_dir("export-swap");
  KernelStore src(dir / "src.db", quiet());
  for (const char* k : {"a", "b", "c"}) src.put(record(k));
  ASSERT_EQ(src.export_to(dir / "artifact.db"), 3);
  {
    RawDb raw(dir / "artifact.db");
    ASSERT_EQ(raw.exec("UPDATE kernels SET (cubin, lowered_name, checksum) = "
                       "(SELECT cubin, lowered_name, checksum FROM kernels WHERE key = 'b') WHERE key = 'a'"),
              SQLITE_OK);
  }
  KernelStore dst(dir / "dst.db", quiet());
  const ImportResult r = dst.import_from(dir / "artifact.db");
  EXPECT_EQ(r.imported, 2);
  EXPECT_EQ(r.corrupt, 1);
  EXPECT_FALSE(dst.get("a")) << "never B's kernel under A's key";
  EXPECT_EQ(dst.get("b")->cubin, record("b").cubin);
}

TEST(KernelStoreExport, ARowWhoseKeyIsNotTheKeyOfItsSpecIsRejected) {
  // A consistent row (checksum recomputed) filed under a key its spec does not produce.
  const auto dir = fresh_dir("export-wrong-key");
  KernelStore src(dir / "src.db", quiet());
  src.put(record("a"));
  KernelRecord moved = record("b");
  moved.key = "a2";   // spec still says b
  src.put(moved);
  ASSERT_EQ(src.export_to(dir / "artifact.db"), 2);
  std::string reports;
  StoreOptions o = quiet();
  o.on_corrupt = [&](const std::string& m) { reports += m + "\n"; };
  KernelStore dst(dir / "dst.db", o);
  const ImportResult r = dst.import_from(dir / "artifact.db");
  EXPECT_EQ(r.imported, 1);
  EXPECT_EQ(r.wrong_key, 1);
  EXPECT_EQ(r.corrupt, 0);
  EXPECT_FALSE(dst.get("a2"));
  EXPECT_NE(reports.find("not this build's key for its spec"), std::string::npos) << reports;
}

TEST(KernelStoreExport, VerifyCatchesARowGivenAnotherKernelsCubin) {
  const auto dir = fresh_dir("verify-swap");
  KernelStore store(dir / "k.db", quiet());
  for (const char* k : {"a", "b"}) store.put(record(k));
  {
    RawDb raw(dir / "k.db");
    ASSERT_EQ(raw.exec("UPDATE kernels SET (cubin, lowered_name, checksum) = "
                       "(SELECT cubin, lowered_name, checksum FROM kernels WHERE key = 'b') WHERE key = 'a'"),
              SQLITE_OK);
  }
  EXPECT_EQ(store.verify(false), std::vector<std::string>{"a"});
  EXPECT_FALSE(store.get("a"));
}

TEST(KernelStoreExport, AnArtifactFromBeforeIdentityChecksumsIsRefused) {
  const auto dir = fresh_dir("export-v2");
  KernelStore src(dir / "src.db", quiet());
  src.put(record("a"));
  ASSERT_EQ(src.export_to(dir / "artifact.db"), 1);
  {
    RawDb raw(dir / "artifact.db");
    ASSERT_EQ(raw.exec("PRAGMA user_version = 2"), SQLITE_OK);
  }
  KernelStore dst(dir / "dst.db", quiet());
  try {
    dst.import_from(dir / "artifact.db");
    ADD_FAILURE() << "a version 2 artifact was imported";
  } catch (const shapejit::Error& e) {
    EXPECT_EQ(e.code(), shapejit::Errc::unsupported);
    EXPECT_NE(std::string(e.what()).find("export it again"), std::string::npos) << e.what();
  }
  EXPECT_EQ(dst.stats().entries, 0);
}

TEST(KernelStoreExport, ANonSqliteFileAndAForeignDatabaseAreTheSameKindOfBadInput) {
  const auto dir = fresh_dir("export-bad-input");
  { std::ofstream(dir / "text.db") << std::string(4096, 'x'); }
  {
    RawDb other(dir / "other.db");
    other.exec("CREATE TABLE kernels (x)");
  }
  KernelStore dst(dir / "dst.db", quiet());
  for (const char* name : {"text.db", "other.db"}) {
    try {
      dst.import_from(dir / name);
      ADD_FAILURE() << name;
    } catch (const shapejit::Error& e) {
      EXPECT_EQ(e.code(), shapejit::Errc::invalid_argument) << name << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find("not a shapejit cache export"), std::string::npos) << e.what();
    }
  }
}
