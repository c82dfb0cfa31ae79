using Microsoft.Extensions.Options;
using WootricGateway.Delivery;
using WootricGateway.Metrics;
using WootricGateway.State;
using WootricGateway.State.InMemory;

namespace WootricGateway.Tests.State;

/// <summary>The in-memory store stays bounded against ever new users and never evicts a user with work waiting.</summary>
public sealed class InMemoryBoundsTests
{
    [Fact]
    public async Task StateStore_ForgetsOldestSettledUsersPastCapacity()
    {
        var queue = new InMemoryWorkQueue(new GatewayMetrics(Prometheus.Metrics.NewCustomRegistry()), TimeProvider.System);
        var ids = new InMemoryIdCache();
        var store = new InMemoryUserStateStore(queue, ids, Options.Create(new DeliveryOptions { MaxInMemoryUsers = 100 }));
        var waiting = UserRef.ForUserId("default", "user-0");
        var settled = UserRef.ForUserId("default", "user-1");

        for (var i = 0; i < 1000; i++)
        {
            var user = UserRef.ForUserId("default", $"user-{i}");
            Assert.True(await store.UpdateAsync(user, state => Set(state, $"user-{i}@example.test"), CancellationToken.None));
            await ids.SetAsync(user, 1000 + i, CancellationToken.None);
            if (i == 0)
            {
                await queue.EnqueueAsync(user, CancellationToken.None);
            }
        }

        Assert.InRange(store.Count, 100, 101);
        Assert.Equal("user-0@example.test", (await store.GetAsync(waiting, CancellationToken.None))?.Email);
        Assert.Null(await store.GetAsync(settled, CancellationToken.None));
        Assert.Null(await ids.GetAsync(settled, CancellationToken.None));
        Assert.Equal(1999, await ids.GetAsync(UserRef.ForUserId("default", "user-999"), CancellationToken.None));
    }

    private static bool Set(UserState state, string email)
    {
        state.Email = email;
        return true;
    }
}
