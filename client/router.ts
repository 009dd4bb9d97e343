import { createRouter, createWebHistory, type Router } from 'vue-router';

/** The four views; each is its own chunk so the first paint loads only what it shows. */
export function createAppRouter(): Router {
  return createRouter({
    history: createWebHistory(),
    routes: [
      { path: '/', redirect: '/crawl' },
      { path: '/crawl', name: 'crawl', component: () => import('./views/CrawlView.vue'), meta: { title: 'Crawl' } },
      {
        path: '/chat/:sessionId?',
        name: 'chat',
        component: () => import('./views/ChatView.vue'),
        meta: { title: 'Chat' },
      },
      {
        path: '/executions',
        name: 'executions',
        component: () => import('./views/ExecutionsView.vue'),
        meta: { title: 'Executions' },
      },
      {
        path: '/executions/:id',
        name: 'execution',
        component: () => import('./views/ExecutionView.vue'),
        meta: { title: 'Execution' },
      },
      {
        path: '/knowledge',
        name: 'knowledge',
        component: () => import('./views/KnowledgeView.vue'),
        meta: { title: 'Knowledge' },
      },
      {
        path: '/:pathMatch(.*)*',
        name: 'not-found',
        component: () => import('./views/NotFoundView.vue'),
        meta: { title: 'Not found' },
      },
    ],
  });
}
