import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { RouterProvider } from '@tanstack/react-router';
import { createRoot } from 'react-dom/client';
import { AuthRequiredError, GraphQLRequestError } from './api/graphql-client.js';
import { router } from './router.js';
import './styles.css';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 5_000,
      // Coded answers (not found, unauthenticated, bad input) won't change by asking again.
      retry: (failures, error) => !(error instanceof AuthRequiredError) && !(error instanceof GraphQLRequestError && error.code !== 'NETWORK') && failures < 3,
    },
  },
});

createRoot(document.getElementById('root')!).render(
  <QueryClientProvider client={queryClient}>
    <RouterProvider router={router} />
  </QueryClientProvider>,
);
