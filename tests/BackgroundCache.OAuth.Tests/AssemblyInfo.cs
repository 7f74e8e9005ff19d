// Each test class starts real Kestrel servers (OpenIddict builds an EF model at start): one class at a time keeps a
// shared 2-core machine from stretching a single refresh past the tests' guards.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
